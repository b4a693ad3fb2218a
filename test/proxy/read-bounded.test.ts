/**
 * Issue 14: readBoundedMessage reads every body through one bounded chunk loop, so the limit
 * counts the bytes that arrive, whatever Content-Length, Content-Encoding or Transfer-Encoding claim.
 */
import { describe, expect, it } from "vitest";
import { readBoundedMessage } from "../../src/proxy/read-bounded.js";

const MAX = 64;
const bytesOf = (text: string) => new TextEncoder().encode(text);

/** A body in several chunks, so the loop's cut-off is what refuses it. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = bytesOf(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 16) controller.enqueue(bytes.slice(at, at + 16));
      controller.close();
    },
  });
}

describe("readBoundedMessage", () => {
  it("reads a Content-Length body within the limit byte for byte (request and response)", async () => {
    const text = '{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"é"}}'.slice(0, MAX);
    const request = new Request("https://taskward.test/mcp", { method: "POST", body: text, headers: { "content-length": String(bytesOf(text).byteLength) } });
    expect(await readBoundedMessage(request, MAX)).toEqual({ bytes: bytesOf(text) });
    const response = new Response(text, { headers: { "content-length": String(bytesOf(text).byteLength) } });
    expect(await readBoundedMessage(response, MAX)).toEqual({ bytes: bytesOf(text) });
  });

  it("refuses a body longer than the limit although its Content-Length claims it fits", async () => {
    const response = new Response("x".repeat(MAX * 4), { headers: { "content-length": "5" } });
    expect(await readBoundedMessage(response, MAX)).toEqual({ tooLarge: true });
  });

  it("refuses a body one byte over the limit, whether it comes in one piece with its Content-Length or in chunks without one", async () => {
    const over = "y".repeat(MAX + 1);
    expect(await readBoundedMessage(new Response(over, { headers: { "content-length": String(MAX + 1) } }), MAX)).toEqual({ tooLarge: true });
    expect(await readBoundedMessage(new Response(chunked(over)), MAX)).toEqual({ tooLarge: true });
  });

  it("the bounded read holds whatever Content-Length / Content-Encoding / Transfer-Encoding claim", async () => {
    const long = "z".repeat(MAX * 8);
    const gzipped = new Response(chunked(long), { headers: { "content-length": "10", "content-encoding": "gzip" } });
    expect(await readBoundedMessage(gzipped, MAX)).toEqual({ tooLarge: true });
    const transfer = new Response(chunked(long), { headers: { "content-length": "10", "transfer-encoding": "chunked" } });
    expect(await readBoundedMessage(transfer, MAX)).toEqual({ tooLarge: true });
    const fits = "w".repeat(MAX);
    expect(await readBoundedMessage(new Response(chunked(fits), { headers: { "content-encoding": "identity", "content-length": "nonsense" } }), MAX)).toEqual({ bytes: bytesOf(fits) });
  });

  it("an empty or absent body is zero bytes", async () => {
    expect(await readBoundedMessage(new Response(null, { status: 202 }), MAX)).toEqual({ bytes: new Uint8Array() });
    expect(await readBoundedMessage(new Request("https://taskward.test/mcp", { method: "POST" }), MAX)).toEqual({ bytes: new Uint8Array() });
  });
});
