import { describe, expect, it } from "vitest";
import { McpSession, decodeClaims, originReceived, originSessionIdOf, forwardedFor } from "../support/mcp-client.js";
import { devTokenAuthenticatedAgo } from "../support/tokens.js";

/** What the origin received from one MCP session (the log is shared with files running in parallel). */
async function receivedFrom(session: McpSession): Promise<Array<Record<string, any>>> {
  const originSession = await originSessionIdOf(session);
  return ((await originReceived()) as Array<Record<string, any>>).filter((m) => m.sessionId === originSession && m.method !== "ping");
}

describe("per-tool policy (TASK_POLICY in vitest.config.ts)", () => {
  it("refuses a task for a forbidden tool before the origin sees it", async () => {
    const session = await McpSession.open({ tenant: "pol", client_id: "c", sub: "s" });
    const reply = await session.request("tools/call", { name: "summarize", arguments: { text: "x" }, task: { ttl: 1000 } });
    expect(reply.reply?.error).toEqual({ code: -32601, message: "Policy forbids running tool summarize as a task" });
    expect((await receivedFrom(session)).filter((m) => m.method === "tools/call")).toEqual([]);
    // The same tool as a plain call is fine.
    const plain = await session.request("tools/call", { name: "summarize", arguments: { text: "x" } });
    expect(plain.reply?.result.content[0].text).toContain("summary");
  });

  it("shows the effective task support in tools/list", async () => {
    const session = await McpSession.open({ tenant: "pol", client_id: "c", sub: "s" });
    const tools = (await session.request("tools/list", {})).reply?.result.tools as Array<{ name: string; execution?: { taskSupport?: string } }>;
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport]));
    expect(support.summarize).toBe("forbidden");
    expect(support.ping_now).toBe("forbidden");
    expect(support.slow_echo).toBe("required");
  });

  it("caps the TTL by the tool's policy, also for an unlimited origin TTL, and shows the effective value", async () => {
    const session = await McpSession.open({ tenant: "pol", client_id: "c", sub: "s" });
    const { handle, reply } = await session.createTask("long_job", { seconds: 30 }, 3_600_000);
    expect(reply.reply?.result.task.ttl).toBe(30_000);
    const claims = decodeClaims(handle);
    expect(claims.exp - claims.iat).toBe(30);
    const polled = await session.request("tasks/get", { taskId: handle });
    expect(polled.reply?.result.ttl).toBeLessThanOrEqual(30_000);
    await session.request("tasks/cancel", { taskId: handle });
  });

  it("limits the operations a handle allows by tool", async () => {
    const session = await McpSession.open({ tenant: "pol", client_id: "c", sub: "ops" });
    const { handle } = await session.createTask("always_fails", {});
    expect(decodeClaims(handle).ops).toEqual(["get"]);
    await session.waitForStatus(handle, ["failed"]);
    const result = await session.request("tasks/result", { taskId: handle });
    expect(result.reply?.error).toEqual({ code: -32602, message: "Task not found" });
    expect((await originReceived()).filter((m) => forwardedFor(m, handle) && m.method === "tasks/result")).toEqual([]);
  });

  it("binds only the fields policy names: same tenant and client, another subject, may poll", async () => {
    const owner = await McpSession.open({ tenant: "pol", client_id: "shared", sub: "u1" });
    const colleague = await McpSession.open({ tenant: "pol", client_id: "shared", sub: "u2" });
    const otherClient = await McpSession.open({ tenant: "pol", client_id: "other", sub: "u1" });
    const { handle } = await owner.createTask("always_fails", {});
    // In its own session: sessions are bound to the principal that opened them.
    const seen = await colleague.request("tasks/get", { taskId: handle });
    expect(seen.reply?.result.taskId).toBe(handle);
    expect((await otherClient.request("tasks/get", { taskId: handle })).reply?.error.code).toBe(-32602);
  });

  it("requires a recent authentication (step-up) for result/cancel on a sensitive tool", async () => {
    const identity = { tenant: "pol", client_id: "c", sub: "stepper" };
    const fresh = await McpSession.open(identity);
    const { handle } = await fresh.createTask("long_job", { seconds: 30 });
    const stale = new McpSession(await devTokenAuthenticatedAgo(identity, 3600));
    stale.sessionId = fresh.sessionId;
    const refused = await stale.request("tasks/cancel", { taskId: handle });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=300');
    expect(refused.reply?.error).toMatchObject({ code: -32003, data: { maxAge: 300 } });
    // Polling is not a step-up operation, and a fresh login may cancel.
    expect((await stale.request("tasks/get", { taskId: handle })).reply?.result.taskId).toBe(handle);
    // Every follow-up of this task so far (its handle is unique; the log is shared with other files).
    expect((await originReceived()).filter((m) => forwardedFor(m, handle)).map((m) => m.method)).toEqual(["tasks/get"]);
    expect((await fresh.request("tasks/cancel", { taskId: handle })).reply?.result.status).toBe("cancelled");
  });

  it("does not tell a non-owner that step-up would help", async () => {
    const owner = await McpSession.open({ tenant: "pol", client_id: "c", sub: "owner2" });
    const { handle } = await owner.createTask("long_job", { seconds: 30 });
    const strangerStale = await McpSession.openWithToken(await devTokenAuthenticatedAgo({ tenant: "pol", client_id: "c", sub: "stranger" }, 3600));
    const refused = await strangerStale.request("tasks/cancel", { taskId: handle });
    expect(refused.reply?.error).toEqual({ code: -32602, message: "Task not found" });
    await owner.request("tasks/cancel", { taskId: handle });
  });
});
