import { describe, expect, it } from "vitest";
import { rewriteSseStream } from "../../src/mcp/sse.js";

const encoder = new TextEncoder();

/** Feeds `chunks` through the rewriter, returning the output and when each output chunk appeared. */
function pipe(rewrite: Parameters<typeof rewriteSseStream>[0]) {
  const transform = rewriteSseStream(rewrite);
  const writer = transform.writable.getWriter();
  const reader = transform.readable.getReader();
  const decoder = new TextDecoder();
  return {
    write: (text: string) => writer.write(encoder.encode(text)),
    close: () => writer.close(),
    async read(): Promise<string | undefined> {
      const { done, value } = await reader.read();
      return done ? undefined : decoder.decode(value);
    },
    async readAll(): Promise<string> {
      let out = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return out;
        out += decoder.decode(value);
      }
    },
  };
}

const renameTask = async (message: Record<string, any>) => {
  if (message.params?.taskId === "origin-1") message.params.taskId = "handle-1";
  if (message.params?.taskId === "origin-2") return null;
  return message;
};

describe("rewriteSseStream", () => {
  it("rewrites each event's JSON-RPC message, keeps the message event type and removes the origin's event id", async () => {
    const stream = pipe(renameTask);
    void stream.write(`id: 7\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"origin-1","status":"working"}}\n\n`);
    void stream.close();
    const out = await stream.readAll();
    expect(out).toBe(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"handle-1","status":"working"}}\n\n`);
  });

  it("drops events of any type other than message", async () => {
    const stream = pipe(renameTask);
    void stream.write(`event: origin-1\ndata: {"jsonrpc":"2.0","method":"n","params":{}}\n\ndata: {"jsonrpc":"2.0","id":2,"result":{}}\n\n`);
    void stream.close();
    expect(await stream.readAll()).toBe(`data: {"jsonrpc":"2.0","id":2,"result":{}}\n\n`);
  });

  it("reassembles events split across arbitrary chunk boundaries, including inside UTF-8 characters", async () => {
    const event = `data: {"jsonrpc":"2.0","method":"n","params":{"taskId":"origin-1","note":"héllo ✓"}}\n\n`;
    const bytes = encoder.encode(event + event);
    const transform = rewriteSseStream(renameTask);
    const writer = transform.writable.getWriter();
    const done = (async () => {
      for (let i = 0; i < bytes.length; i += 3) await writer.write(bytes.slice(i, i + 3));
      await writer.close();
    })();
    const text = await new Response(transform.readable).text();
    await done;
    const datas = text.split("\n\n").filter(Boolean).map((block) => JSON.parse(block.slice("data: ".length)));
    expect(datas).toHaveLength(2);
    for (const data of datas) expect(data.params).toEqual({ taskId: "handle-1", note: "héllo ✓" });
  });

  it("drops events the rewriter refuses and data that is not JSON", async () => {
    const stream = pipe(renameTask);
    void stream.write(`data: {"jsonrpc":"2.0","method":"n","params":{"taskId":"origin-2"}}\n\ndata: not json origin-2\n\ndata: {"jsonrpc":"2.0","method":"n","params":{"taskId":"origin-1"}}\n\n`);
    void stream.close();
    const out = await stream.readAll();
    expect(out).not.toContain("origin-2");
    expect(out).toContain("handle-1");
  });

  it("passes priming events (empty data, without their id), retry hints and comments (as a fixed keep-alive) in order", async () => {
    const stream = pipe(renameTask);
    void stream.write(`id: p1\ndata: \n\nretry: 1500\n\n: origin-1 says hi\n\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n`);
    void stream.close();
    const out = await stream.readAll();
    expect(out).toBe(`data: \n\nretry: 1500\n\n: keep-alive\n\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n`);
  });

  it("streams: an event is emitted before the origin's stream ends", async () => {
    const stream = pipe(renameTask);
    void stream.write(`data: {"jsonrpc":"2.0","method":"n","params":{"taskId":"origin-1"}}\n\n`);
    const first = await stream.read();
    expect(first).toContain("handle-1");
    void stream.write(`data: {"jsonrpc":"2.0","method":"n","params":{"taskId":"origin-1","n":2}}\n\n`);
    expect(await stream.read()).toContain('"n":2');
    void stream.close();
    expect(await stream.read()).toBeUndefined();
  });

  it("keeps multi-line data intact", async () => {
    const stream = pipe(async (m) => m);
    void stream.write(`data: {"jsonrpc":"2.0",\ndata: "method":"x"}\n\n`);
    void stream.close();
    expect(JSON.parse((await stream.readAll()).slice("data: ".length))).toEqual({ jsonrpc: "2.0", method: "x" });
  });
});
