/**
 * Handles that policy binds to the MCP session (`bind: [..., "session"]`): usable only in the
 * session that created them, and revoked when that session is ended by DELETE — before the
 * client hears that it ended. The Worker runs with a policy override (createApp with a copy of
 * the test env), against the suite's demo origin and ledger.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { WorkerEnv } from "../../src/config.js";
import { decodeClaims, devToken } from "../support/mcp-client.js";
import { callApp, faultEnv, ledgerRecord, messagesOf } from "../adversarial/fault-support.js";

const sessionBound: WorkerEnv = {
  ...(env as unknown as WorkerEnv),
  TASK_POLICY: JSON.stringify({ tools: { slow_echo: { bind: ["tenant", "client", "subject", "session"] } } }),
};

let nextId = 1;
async function call(token: string, method: "POST" | "DELETE", body: unknown, session?: string): Promise<{ status: number; session: string | null; message: Record<string, any> | undefined }> {
  const outcome = await callApp(
    sessionBound,
    new Request("https://taskward.test/mcp", {
      method,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": "2025-11-25",
        ...(session ? { "mcp-session-id": session } : {}),
      },
      ...(method === "POST" ? { body: JSON.stringify(body) } : {}),
    }),
  );
  const [message] = messagesOf(outcome);
  return { status: outcome.status, session: outcome.headers.get("mcp-session-id"), message };
}

async function openSession(token: string): Promise<string> {
  const init = await call(token, "POST", { jsonrpc: "2.0", id: nextId++, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "session-bound", version: "1" } } });
  expect(init.status).toBe(200);
  expect(init.session).toEqual(expect.any(String));
  await call(token, "POST", { jsonrpc: "2.0", method: "notifications/initialized" }, init.session!);
  return init.session!;
}

const poll = (token: string, session: string, handle: string) => call(token, "POST", { jsonrpc: "2.0", id: nextId++, method: "tasks/get", params: { taskId: handle } }, session);

describe("handles bound to their MCP session", () => {
  it("work only in their session, and DELETE of the session revokes them", async () => {
    const tenant = `session-bound-${crypto.randomUUID().slice(0, 8)}`;
    const token = await devToken({ tenant, client_id: "c1", sub: "alice" });
    const session = await openSession(token);
    const created = await call(token, "POST", { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "slow_echo", arguments: { text: "bound", delayMs: 30_000 }, task: { ttl: 60_000 } } }, session);
    const handle = created.message?.result?.task?.taskId as string;
    expect(decodeClaims(handle).tenant).toBe(tenant);

    expect((await poll(token, session, handle)).message?.result?.status).toBe("working");
    const otherSession = await openSession(token);
    expect((await poll(token, otherSession, handle)).message?.error).toEqual({ code: -32602, message: expect.stringMatching(/not found/i) });

    // A GET stream of the session is not its end: the handle stays live.
    const ctx = createExecutionContext();
    const stream = await createApp().fetch(
      new Request("https://taskward.test/mcp", { headers: { accept: "text/event-stream", authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-11-25", "mcp-session-id": session } }),
      sessionBound,
      ctx,
    );
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    await waitOnExecutionContext(ctx);
    expect((await poll(token, session, handle)).message?.result?.status).toBe("working");

    expect((await call(token, "DELETE", undefined, session)).status).toBe(200);
    expect(await ledgerRecord(tenant, decodeClaims(handle).jti)).toMatchObject({ revokeReason: "session_ended" });
    expect((await poll(token, otherSession, handle)).message?.error).toEqual({ code: -32602, message: expect.stringMatching(/not found/i) });
  });
});

describe("a session's revision is the one the origin negotiated", () => {
  it("an origin answering 2025-06-18 to a 2025-11-25 initialize: later requests must say 2025-06-18", async () => {
    const negotiating = faultEnv("/negotiate/session-revision");
    const token = await devToken({ tenant: `negotiate-${crypto.randomUUID().slice(0, 8)}`, client_id: "c1", sub: "alice" });
    const post = async (version: string, body: unknown, session?: string) => {
      const outcome = await callApp(
        negotiating,
        new Request("https://taskward.test/mcp", {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, "mcp-protocol-version": version, ...(session ? { "mcp-session-id": session } : {}) },
          body: JSON.stringify(body),
        }),
      );
      return { status: outcome.status, session: outcome.headers.get("mcp-session-id"), message: messagesOf(outcome)[0] };
    };
    const init = await post("2025-11-25", { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "n", version: "1" } } });
    expect(init.message?.result?.protocolVersion).toBe("2025-06-18");
    expect(init.session).toEqual(expect.any(String));
    expect((await post("2025-06-18", { jsonrpc: "2.0", id: 2, method: "tools/list" }, init.session!)).status).toBe(200);
    const disagreeing = await post("2025-11-25", { jsonrpc: "2.0", id: 3, method: "tools/list" }, init.session!);
    expect(disagreeing.status).toBe(400);
    expect(disagreeing.message?.error?.code).toBe(-32020);
  });
});
