import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { ALICE, McpSession, decodeClaims, decodedForm, forwardedFor, originReceived, originTaskIdOf } from "../support/mcp-client.js";

describe("2025-11-25 task lifecycle through the authority", () => {
  it("replaces the origin task id with a signed handle bound to the caller", async () => {
    const session = await McpSession.open();
    const { handle, reply } = await session.createTask("slow_echo", { text: "hello", delayMs: 50 });
    const claims = decodeClaims(handle);
    expect(claims).toMatchObject({
      iss: "https://taskward.test",
      aud: inject("originUrl"),
      tenant: ALICE.tenant,
      client_id: ALICE.client_id,
      sub: ALICE.sub,
      tool: "slow_echo",
      ops: ["get", "result", "cancel"],
      mcp: "2025-11-25",
    });
    const originId = await originTaskIdOf(handle);
    expect(originId).not.toBe(handle);
    // Decoded too: not even inside the handle's payload does the origin id appear.
    expect(decodedForm(JSON.stringify(reply.messages))).not.toContain(originId);
    expect(reply.reply?.result.task.ttl).toBe(60_000);
  });

  it("polls, fetches the result and sees only handles in every response", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "polled", delayMs: 100 });
    const originId = await originTaskIdOf(handle);
    const done = await session.waitForStatus(handle, ["completed"]);
    expect(done.taskId).toBe(handle);
    const result = await session.request("tasks/result", { taskId: handle });
    expect(result.reply?.result.content[0].text).toContain("polled");
    expect(result.reply?.result._meta?.["io.modelcontextprotocol/related-task"]).toEqual({ taskId: handle });
    expect(JSON.stringify(result.messages)).not.toContain(originId);

    const seen = (await originReceived()).filter((m) => m.taskId === originId);
    expect(seen.map((m) => m.method)).toEqual(expect.arrayContaining(["tasks/get", "tasks/result"]));
    for (const message of seen) expect(forwardedFor(message, handle)).toBe(true);
  });

  it("lists only the caller's own tasks, as handles", async () => {
    const mine = await McpSession.open({ tenant: "list-co", client_id: "c1", sub: "u1" });
    const theirs = await McpSession.open({ tenant: "list-co", client_id: "c1", sub: "u2" });
    const a = await mine.createTask("slow_echo", { text: "a", delayMs: 10 });
    const b = await theirs.createTask("slow_echo", { text: "b", delayMs: 10 });
    const listed = await mine.request("tasks/list", {});
    const ids = listed.reply?.result.tasks.map((t: { taskId: string }) => t.taskId);
    expect(ids).toContain(a.handle);
    expect(ids).not.toContain(b.handle);
    // Decoded: not even inside a handle's payload does either origin id appear.
    expect(decodedForm(JSON.stringify(listed.messages))).not.toContain(await originTaskIdOf(b.handle));
    expect(decodedForm(JSON.stringify(listed.messages))).not.toContain(await originTaskIdOf(a.handle));
  });

  it("cancels a running task through its handle", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("long_job", { seconds: 30 });
    const cancelled = await session.request("tasks/cancel", { taskId: handle });
    expect(cancelled.reply?.result).toMatchObject({ taskId: handle, status: "cancelled" });
  });

  it("passes a failed task's outcome through", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("always_fails", {});
    const failed = await session.waitForStatus(handle, ["failed"]);
    expect(failed.taskId).toBe(handle);
  });

  it("forwards plain tool calls and other methods unchanged", async () => {
    const session = await McpSession.open();
    const ping = await session.request("tools/call", { name: "ping_now", arguments: {} });
    expect(ping.reply?.result.content[0].text).toBe("pong");
    const tools = await session.request("tools/list", {});
    const names = tools.reply?.result.tools.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(["slow_echo", "summarize", "ping_now", "long_job", "always_fails"]));
  });
});
