import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { WorkerEnv } from "../../src/config.js";
import { McpSession, forwardedFor, originReceived } from "../support/mcp-client.js";

/**
 * A ledger that cannot answer is a fault we cannot cause with the real Durable Object, so these
 * tests swap in a namespace whose stubs throw — the only mock in the suite.
 */
function envWithBrokenLedger(): WorkerEnv {
  const broken = new Proxy({}, { get: () => () => Promise.reject(new Error("ledger unreachable (injected)")) });
  const namespace = { idFromName: () => ({}), get: () => broken } as unknown as WorkerEnv["TASK_LEDGER"];
  return { ...(env as unknown as WorkerEnv), TASK_LEDGER: namespace };
}

async function callApp(targetEnv: WorkerEnv, session: McpSession, method: string, params: Record<string, unknown>) {
  const ctx = createExecutionContext();
  const response = await createApp().fetch(
    new Request("https://taskward.test/mcp", { method: "POST", headers: session.headers(), body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }),
    targetEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("fail closed when the ledger cannot answer", () => {
  it("refuses a follow-up with 503 / -32603 and forwards nothing", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    const response = await callApp(envWithBrokenLedger(), session, "tasks/get", { taskId: handle });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Task authority temporarily unavailable" } });
    // Nobody else polls this task: any entry with its handle would be the refused call.
    expect((await originReceived()).filter((m) => forwardedFor(m, handle))).toEqual([]);
  });

  it("refuses a bad handle with 503 when its refusal cannot be audited", async () => {
    const session = await McpSession.open();
    const bogus = `not-a-handle-${crypto.randomUUID()}`;
    const response = await callApp(envWithBrokenLedger(), session, "tasks/get", { taskId: bogus });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Task authority temporarily unavailable" } });
    expect((await originReceived()).filter((m) => JSON.stringify(m).includes(bogus))).toEqual([]);
  });

  it("withholds a created task's handle when it cannot be recorded", async () => {
    const session = await McpSession.open();
    const response = await callApp(envWithBrokenLedger(), session, "tools/call", { name: "slow_echo", arguments: { text: "x" }, task: { ttl: 1000 } });
    const text = await response.text();
    expect(text).not.toMatch(/"taskId"/);
    expect(text).toMatch(/-32603/);
  });
});
