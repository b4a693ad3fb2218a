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

/** A request's or response's whole body, at most `maxBytes` (an absent body is empty). */
export async function readBoundedMessage(message: Request | Response, maxBytes: number): Promise<{ bytes: Uint8Array } | { tooLarge: true }> {
  return message.body ? readBoundedBytes(message.body, maxBytes) : { bytes: new Uint8Array() };
}
