import { Refusal } from "../errors.js";
import { readBoundedMessage } from "../proxy/read-bounded.js";

/** One strict decoder per isolate: without `stream` each decode is independent, so sharing it is safe. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Reads a request body as text, refusing (413) as soon as it passes `maxBytes`. */
export async function readBoundedBody(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) throw new Refusal("body_too_large", `content-length ${declared}`);
  const read = await readBoundedMessage(request, maxBytes);
  if ("tooLarge" in read) throw new Refusal("body_too_large", `body over ${maxBytes} bytes`);
  try {
    return UTF8.decode(read.bytes);
  } catch {
    throw new Refusal("parse_error", "body is not UTF-8");
  }
}
