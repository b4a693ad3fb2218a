/** Reads a body stream as bytes, stopping (and cancelling the stream) as soon as it passes `maxBytes`. */
export async function readBoundedBytes(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<{ bytes: Uint8Array } | { tooLarge: true }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return { tooLarge: true };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes };
}

/**
 * A request's or response's whole body, at most `maxBytes`. When HTTP framing bounds it (a
 * Content-Length within the limit, no Transfer-Encoding or Content-Encoding that could make it
 * longer) it is read in one runtime call (no JS loop over chunks, no second copy); otherwise
 * chunk by chunk and cut off at the limit. The size is checked either way.
 */
export async function readBoundedMessage(message: Request | Response, maxBytes: number): Promise<{ bytes: Uint8Array } | { tooLarge: true }> {
  if (!message.body) return { bytes: new Uint8Array() };
  if (framedWithin(message.headers, maxBytes)) {
    const bytes = new Uint8Array(await message.arrayBuffer());
    return bytes.byteLength > maxBytes ? { tooLarge: true } : { bytes };
  }
  return readBoundedBytes(message.body, maxBytes);
}

const DECIMAL = /^\d{1,15}$/;

function framedWithin(headers: Headers, maxBytes: number): boolean {
  const length = headers.get("content-length");
  if (length === null || !DECIMAL.test(length) || Number(length) > maxBytes) return false;
  const encoding = headers.get("content-encoding");
  return !headers.has("transfer-encoding") && (encoding === null || encoding.toLowerCase() === "identity");
}
