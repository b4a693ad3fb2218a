import { Refusal } from "../errors.js";
import { readBoundedBytes } from "../proxy/read-bounded.js";

/** Reads a request body as text, refusing (413) as soon as it passes `maxBytes`. */
export async function readBoundedBody(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) throw new Refusal("body_too_large", `content-length ${declared}`);
  if (!request.body) return "";
  const read = await readBoundedBytes(request.body, maxBytes);
  if ("tooLarge" in read) throw new Refusal("body_too_large", `body over ${maxBytes} bytes`);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(read.bytes);
  } catch {
    throw new Refusal("parse_error", "body is not UTF-8");
  }
}
