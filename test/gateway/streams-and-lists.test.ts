import { describe, expect, it } from "vitest";
import { McpSession, decodedForm, originTaskIdOf, parseSseMessages, worker } from "../support/mcp-client.js";

describe("tasks/list pagination", () => {
  it("seals origin cursors (which are origin task ids) and honours them only for their owner", async () => {
    const identity = { tenant: "page-co", client_id: "c", sub: "pager" };
    const session = await McpSession.open(identity);
    const handles: string[] = [];
    for (let i = 0; i < 12; i++) handles.push((await session.createTask("slow_echo", { text: `t${i}`, delayMs: 10 })).handle);
    const first = await session.request("tasks/list", {});
    const page1 = first.reply?.result;
    expect(page1.tasks.length).toBeGreaterThan(0);
    expect(typeof page1.nextCursor).toBe("string");
    const originIds = await Promise.all(handles.map((h) => originTaskIdOf(h)));
    // Sealed (encrypted): no origin id in any decoded part of the cursor.
    for (const id of originIds) expect(decodedForm(page1.nextCursor)).not.toContain(id);

    const second = await session.request("tasks/list", { cursor: page1.nextCursor });
    const all = [...page1.tasks, ...second.reply?.result.tasks].map((t: { taskId: string }) => t.taskId);
    expect(new Set(all)).toEqual(new Set(handles));

    const stranger = await McpSession.open({ ...identity, sub: "stranger" });
    const stolen = await stranger.request("tasks/list", { cursor: page1.nextCursor });
    expect(stolen.reply?.error).toMatchObject({ code: -32602, message: expect.stringContaining("cursor") });
    const forged = await session.request("tasks/list", { cursor: originIds[5] });
    expect(forged.reply?.error?.code).toBe(-32602);
  });
});

describe("origin error text", () => {
  it("names the task by its handle, never by the origin id", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("long_job", { seconds: 30 });
    await session.request("tasks/cancel", { taskId: handle });
    const result = await session.request("tasks/result", { taskId: handle });
    // The origin's text named its own id; the client reads the handle in its place.
    expect(result.reply?.error).toEqual({ code: -32603, message: `Task ${handle} has no result stored` });
    const text = JSON.stringify(result.messages);
    expect(text).not.toContain(await originTaskIdOf(handle));
  });
});

describe("GET /mcp server stream", () => {
  it("delivers notifications/tasks/status with the handle in place of the origin id", async () => {
    const session = await McpSession.open({ tenant: "stream-co", client_id: "c", sub: "s" });
    const controller = new AbortController();
    const stream = await worker().fetch("https://taskward.test/mcp", {
      method: "GET",
      headers: { ...session.headers(), accept: "text/event-stream" },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const { handle } = await session.createTask("slow_echo", { text: "notify", delayMs: 150 });
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let found: Record<string, any> | undefined;
    const deadline = Date.now() + 10_000;
    while (!found && Date.now() < deadline) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      found = parseSseMessages(buffer.slice(0, buffer.lastIndexOf("\n\n") + 2)).find(
        (m) => m.method === "notifications/tasks/status" && m.params?.status === "completed",
      );
    }
    await reader.cancel();
    controller.abort();
    expect(found?.params.taskId).toBe(handle);
    expect(buffer).not.toContain(await originTaskIdOf(handle));
  });

  it("requires authentication", async () => {
    const response = await worker().fetch("https://taskward.test/mcp", { method: "GET", headers: { accept: "text/event-stream" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer resource_metadata="https://taskward.test/.well-known/oauth-protected-resource"');
    expect(await response.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32001 } });
  });
});
