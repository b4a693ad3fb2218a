/**
 * Limits and header rules of src/mcp pinned at their edges: JSON nesting depth, the SSE event
 * size cap, reading a whole SSE answer, and which routing headers a forwarded 2026 request carries.
 */
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, parseClientMessage } from "../../src/mcp/envelope.js";
import { moduleFor } from "../../src/mcp/revisions/index.js";
import { routingHeadersFor } from "../../src/mcp/routing-headers.js";
import { MAX_SSE_EVENT_CHARS, messagesInAnswer, rewriteSseStream } from "../../src/mcp/sse.js";

/** A request whose JSON nests `depth` levels deep in all (the envelope itself is level 1). */
function nestedRequest(depth: number): string {
  let params: Record<string, unknown> = {};
  for (let level = 3; level <= depth; level++) params = { a: params };
  return JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params });
}

/**
 * Sends `body` through the SSE rewriter in 1 KiB chunks, as a network delivers a large event; the
 * text relayed, or "errored" when the rewriter ended the stream. (The cap is checked between
 * chunks, so an event may exceed it by at most the chunk that completes it.)
 */
async function throughSse(body: string): Promise<string> {
  const bytes = new TextEncoder().encode(body);
  const chunked = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 1_024) controller.enqueue(bytes.slice(at, at + 1_024));
      controller.close();
    },
  });
  return new Response(chunked.pipeThrough(rewriteSseStream(async (message) => message))).text().catch(() => "errored");
}

describe("src/mcp limits", () => {
  it(`a message nesting exactly ${MAX_JSON_DEPTH} levels is read; one more is refused`, () => {
    expect(parseClientMessage(nestedRequest(MAX_JSON_DEPTH))).toMatchObject({ kind: "request", method: "tools/list" });
    expect(() => parseClientMessage(nestedRequest(MAX_JSON_DEPTH + 1))).toThrow();
  });

  it("an SSE event a little over the 4 MiB cap is not relayed; one a little under is", async () => {
    const cap = 4 * 1024 * 1024;
    expect(MAX_SSE_EVENT_CHARS).toBe(cap);
    const event = (chars: number) => `data: {"jsonrpc":"2.0","method":"n","params":{"p":"${"x".repeat(chars)}"}}\n\n`;
    const under = await throughSse(event(cap - 1_000));
    expect(under.length).toBeGreaterThan(cap - 1_000);
    const over = await throughSse(`${event(cap + 3_000)}data: {"jsonrpc":"2.0","method":"after"}\n\n`);
    expect(over).toBe("errored");
  });

  it("a whole SSE answer is read event by event", () => {
    const text = `event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"a":1}}\n\ndata: not json\n\ndata: {"jsonrpc":"2.0","method":"m"}\n\n`;
    expect(messagesInAnswer(text, "text/event-stream")).toEqual([{ jsonrpc: "2.0", id: 1, result: { a: 1 } }, { jsonrpc: "2.0", method: "m" }]);
    expect(messagesInAnswer(`{"jsonrpc":"2.0","id":2,"result":{}}`, "application/json")).toEqual([{ jsonrpc: "2.0", id: 2, result: {} }]);
  });

  it("2026-07-28 routing headers: Mcp-Param-* only on tools/call, and no Mcp-Name for a request that names nothing", () => {
    const module = moduleFor("2026-07-28");
    const client = new Headers({ "mcp-method": "x", "mcp-name": "y", "mcp-param-region": "eu" });
    const call = parseClientMessage(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow_echo", arguments: {} } }));
    const list = parseClientMessage(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
    const names = (headers: Array<[string, string]>) => headers.map(([name]) => name.toLowerCase()).sort();
    expect(names(routingHeadersFor(client, call, module, false))).toEqual(["mcp-method", "mcp-name", "mcp-param-region"]);
    expect(names(routingHeadersFor(client, list, module, false))).toEqual(["mcp-method"]);
  });
});
