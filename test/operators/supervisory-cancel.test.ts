import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { McpSession, adminFetch, decodeClaims, devToken, originReceived, originTaskIdOf, parseSseMessages, readReply, worker, type Identity } from "../support/mcp-client.js";
import { signOriginAssertion, ORIGIN_ASSERTION_HEADER } from "../../src/proxy/origin-assertion.js";
import { testKeyRing } from "../adversarial/support.js";
import { mintHandle } from "../../src/handle/mint.js";
import { devOperatorId, operatorToken } from "./support.js";

const NOT_FOUND = { code: -32602, message: "Task not found" };
const SUPERVISOR = ["taskward:revoke", "taskward:cancel"];

async function auditOf(tenant: string) {
  return (await ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant).auditEvents(tenant)).events;
}

async function revoke(body: Record<string, unknown>, token: string) {
  const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify(body) }, token);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** An origin assertion, as the edge would sign it, for asking the demo origin directly about a task. */
async function probeAssertion(identity: Identity, body: string, task: string, jti: string): Promise<string> {
  return signOriginAssertion({
    keyRing: await testKeyRing(),
    issuer: "https://taskward.test",
    audience: inject("originUrl"),
    ttlSeconds: 60,
    principal: { tenant: identity.tenant, clientId: identity.client_id, subject: identity.sub },
    op: "get",
    txn: `probe-${crypto.randomUUID()}`,
    body: new TextEncoder().encode(body),
    task,
    handleJti: jti,
  });
}

/** The origin-facing copy of a handle, as the edge forwards it in its compatibility mode (this suite's origin requires one). */
async function originCopy(handle: string, task: string): Promise<string> {
  const { sub, tenant, client_id, tool, ops, mcp, exp, jti } = decodeClaims(handle);
  const { token } = await mintHandle({ sub, tenant, client_id, tool, ops, mcp, exp, jti, task }, { keyRing: await testKeyRing(), issuer: "https://taskward.test", audience: inject("originUrl") });
  return token;
}

/** What the demo origin itself says about its task (2025-11-25, on the task's origin session, with an assertion). */
async function originStatus(job: Awaited<ReturnType<typeof longJob>>): Promise<string | undefined> {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: job.task } });
  const response = await fetch(inject("originUrl"), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", "mcp-session-id": job.originSession, [ORIGIN_ASSERTION_HEADER]: await probeAssertion(job.identity, body, job.task, job.jti), "taskward-task-handle": await originCopy(job.handle, job.task) },
    body,
  });
  return (await readReply(response, 1)).reply?.result?.status;
}

async function longJob(identity: Identity) {
  const session = await McpSession.open(identity);
  const { handle } = await session.createTask("long_job", { seconds: 30 });
  const jti = decodeClaims(handle).jti as string;
  // The client holds a sealed session id and a handle without the origin's task id: the origin's own come from its log and the ledger.
  const created = (await originReceived()).find((m) => m.method === "tools/call" && (m as { assertion?: { sub?: string } }).assertion?.sub === identity.sub);
  return { identity, session, handle, jti, task: await originTaskIdOf(handle), originSession: created!.sessionId! };
}

describe("supervisory cancel (POST /admin/revocations with cancel: true)", () => {
  it("2025-11-25: revoke with cancel → the origin's task ends cancelled, the next poll is refused, the audit names the operator", async () => {
    const tenant = "cancel-2025";
    const job = await longJob({ tenant, client_id: "cli", sub: "alice" });
    expect(await originStatus(job)).toBe("working");
    const operator = await operatorToken("incident-lead", SUPERVISOR, [tenant]);

    const { status, body } = await revoke({ tenant, jti: job.jti, reason: "compromised laptop", cancel: true }, operator);
    expect(status).toBe(200);
    expect(body).toEqual({ tenant, jti: job.jti, revoked: 1, cancellations: [{ jti: job.jti, task: job.task, outcome: "cancelled", status: "cancelled" }], cancel_cursor: null });
    expect(await originStatus(job)).toBe("cancelled");
    expect((await job.session.request("tasks/get", { taskId: job.handle })).reply?.error).toEqual(NOT_FOUND);

    const events = await auditOf(tenant);
    const cancel = events.find((e) => e.type === "cancel");
    expect(cancel).toMatchObject({ jti: job.jti, reason: "cancelled" });
    expect(JSON.parse(cancel!.detail!)).toEqual({ actor: devOperatorId("incident-lead"), task: job.task, status: "cancelled" });
    expect(events.some((e) => e.type === "terminal" && e.jti === job.jti && e.reason === "cancelled")).toBe(true);
    expect((await adminFetch(`/tenants/${tenant}/tasks/${job.jti}`)).status).toBe(200);
  });

  it("2026-07-28: the cancel carries the extension's headers and _meta, and the origin stops the task", async () => {
    const tenant = "cancel-2026";
    const identity = { tenant, client_id: "cli", sub: "bob" };
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "t", version: "0" },
      "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} } },
    };
    const call = async (method: string, params: Record<string, unknown>, name: string) => {
      const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${await devToken(identity)}`, "mcp-protocol-version": "2026-07-28", "mcp-method": method, "mcp-name": name };
      const response = await worker().fetch("https://taskward.test/mcp", { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 7, method, params: { ...params, _meta: meta } }) });
      const text = await response.text();
      const messages = (response.headers.get("content-type") ?? "").startsWith("text/event-stream") ? parseSseMessages(text) : [JSON.parse(text)];
      return messages.find((m) => m.id === 7) as Record<string, any>;
    };
    const created = await call("tools/call", { name: "slow_compute", arguments: { seconds: 30, label: "long" } }, "slow_compute");
    const handle = created.result.taskId as string;
    const { jti } = decodeClaims(handle);
    const task = await originTaskIdOf(handle);
    const operator = await operatorToken("sre-2026", SUPERVISOR, "*");
    const { body } = await revoke({ handle, cancel: true }, operator);
    expect(body.cancellations).toEqual([{ jti, task, outcome: "cancelled" }]);
    // The origin itself now reports the task cancelled (asked directly, with the handle it verifies).
    const directBody = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: task, _meta: meta } });
    const direct = await fetch(inject("originUrl"), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tasks/get", "mcp-name": task, [ORIGIN_ASSERTION_HEADER]: await probeAssertion(identity, directBody, task, jti), "taskward-task-handle": await originCopy(handle, task) },
      body: directBody,
    });
    expect((await readReply(direct, 1)).reply?.result?.status).toBe("cancelled");
    expect((await call("tasks/get", { taskId: handle }, handle)).error).toEqual(NOT_FOUND);
  });

  it("a bulk scope cancels every in-flight task it covers, in bounded batches resumed by a cursor, skipping finished tasks", async () => {
    const tenant = "cancel-bulk";
    const jobs = [];
    for (const n of [1, 2, 3]) jobs.push(await longJob({ tenant, client_id: "leaky", sub: `u${n}` }));
    const other = await longJob({ tenant, client_id: "fine", sub: "carol" });
    const finished = await McpSession.open({ tenant, client_id: "leaky", sub: "u9" });
    const done = await finished.createTask("slow_echo", { text: "x", delayMs: 10 });
    await finished.waitForStatus(done.handle, ["completed"]);
    const operator = await operatorToken("bulk-op", SUPERVISOR, [tenant]);

    const first = await revoke({ tenant, client_id: "leaky", cancel: true, limit: 2 }, operator);
    expect(first.status).toBe(200);
    expect(first.body.cancellations.map((c: { jti: string }) => c.jti)).toEqual([jobs[0]!.jti, jobs[1]!.jti]);
    expect(typeof first.body.cancel_cursor).toBe("string");
    const second = await revoke({ tenant, client_id: "leaky", cancel: true, limit: 2, cursor: first.body.cancel_cursor }, operator);
    expect(second.body.cancellations).toEqual([{ jti: jobs[2]!.jti, task: jobs[2]!.task, outcome: "cancelled", status: "cancelled" }]);
    expect(second.body.cancel_cursor).toBeNull();
    expect(second.body.issuedBefore).toBeUndefined();
    for (const job of jobs) {
      expect(await originStatus(job)).toBe("cancelled");
      expect((await job.session.request("tasks/get", { taskId: job.handle })).reply?.error).toEqual(NOT_FOUND);
    }
    // Another client's task keeps running and stays usable.
    expect(await originStatus(other)).toBe("working");
    expect((await other.session.request("tasks/get", { taskId: other.handle })).reply?.result.status).toBe("working");
    const cancels = (await auditOf(tenant)).filter((e) => e.type === "cancel");
    expect(cancels.map((e) => e.jti)).toEqual(jobs.map((j) => j.jti));
    expect(cancels.every((e) => JSON.parse(e.detail!).actor === devOperatorId("bulk-op"))).toBe(true);
  });

  it("a revocation without cancel leaves the work running; cancelling behind the already revoked handle stops it", async () => {
    const tenant = "cancel-later";
    const job = await longJob({ tenant, client_id: "cli", sub: "dave" });
    const operator = await operatorToken("late", SUPERVISOR, [tenant]);
    expect((await revoke({ tenant, jti: job.jti }, operator)).body).toEqual({ tenant, jti: job.jti, revoked: 1 });
    expect(await originStatus(job)).toBe("working");
    const again = await revoke({ tenant, jti: job.jti, cancel: true }, operator);
    expect(again).toEqual({ status: 200, body: { tenant, jti: job.jti, revoked: 0, cancellations: [{ jti: job.jti, task: job.task, outcome: "cancelled", status: "cancelled" }], cancel_cursor: null } });
    expect(await originStatus(job)).toBe("cancelled");
    // Nothing left in flight: a third call finds nothing to revoke or cancel.
    expect(await revoke({ tenant, jti: job.jti, cancel: true }, operator)).toEqual({ status: 404, body: { tenant, jti: job.jti, revoked: 0, cancellations: [], cancel_cursor: null } });
  });

  it("cancelling through a delegated read-only handle shows the origin the task's own handle, which allows cancel", async () => {
    const tenant = "cancel-delegated";
    const job = await longJob({ tenant, client_id: "cli", sub: "frank" });
    const delegated = await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle: job.handle, to: { client_id: "cli", sub: "grace" }, ops: ["get"] }) });
    const child = ((await delegated.json()) as { jti: string }).jti;
    const operator = await operatorToken("deleg-op", SUPERVISOR, [tenant]);
    const { body } = await revoke({ tenant, jti: child, cancel: true }, operator);
    expect(body.cancellations).toEqual([{ jti: child, task: job.task, outcome: "cancelled", status: "cancelled" }]);
    const cancels = (await originReceived()).filter((m) => m.method === "tasks/cancel" && m.taskId === job.task);
    // The task's own handle (in its origin-facing copy, compatibility mode on in this suite), not the read-only child's.
    expect(cancels.map((m) => decodeClaims(m.handle!).jti)).toEqual([job.jti]);
    expect(await originStatus(job)).toBe("cancelled");
  });

  it("says why a cancel did not happen: the session was closed (refused), or never recorded (no_session)", async () => {
    const tenant = "cancel-outcomes";
    const job = await longJob({ tenant, client_id: "cli", sub: "heidi" });
    const closed = await worker().fetch("https://taskward.test/mcp", { method: "DELETE", headers: job.session.headers() });
    expect(closed.status).toBe(200);
    const operator = await operatorToken("outcomes", SUPERVISOR, [tenant]);
    const refused = await revoke({ tenant, jti: job.jti, cancel: true }, operator);
    expect(refused.body.cancellations).toEqual([{ jti: job.jti, task: job.task, outcome: "refused", detail: "origin answered HTTP 404 without a response to the cancel" }]);

    // A 2025-11-25 task recorded without its session (e.g. issued before sessions were recorded).
    const ledger = ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant);
    const now = Date.now();
    await ledger.issue(tenant, {
      jti: "legacy-jti", taskId: "legacy-task", handle: "legacy.handle.x", originHandle: "legacy.origin-handle.x", principal: { tenant, clientId: "cli", subject: "ivan" }, tool: "long_job",
      ops: ["get", "result", "cancel"], mcp: "2025-11-25", bind: ["tenant", "client", "subject"], maxAuthAgeSeconds: undefined, stepUpOps: [], status: "working", issuedAt: now, expiresAt: now + 60_000,
    });
    const missing = await revoke({ tenant, jti: "legacy-jti", cancel: true }, operator);
    expect(missing.body.cancellations).toEqual([{ jti: "legacy-jti", task: "legacy-task", outcome: "no_session", detail: "the origin session of this 2025-11-25 task was not recorded" }]);
    const outcomes = (await auditOf(tenant)).filter((e) => e.type === "cancel").map((e) => e.reason);
    expect(outcomes).toEqual(["refused", "no_session"]);
  });

  it("refuses cursor or limit without cancel, and a cancel without the cancel role", async () => {
    const operator = await operatorToken("half", ["taskward:revoke"], "*");
    expect(await revoke({ tenant: "cancel-bad", sub: "x", cursor: "1:abc" }, operator)).toEqual({
      status: 400,
      body: { error: "invalid_request", message: "cursor and limit pace a cancel: send them with cancel: true" },
    });
    expect((await revoke({ tenant: "cancel-bad", sub: "x", cancel: true }, operator)).status).toBe(403);
    expect((await revoke({ tenant: "cancel-bad", sub: "x", cancel: true, limit: 101 }, await operatorToken("full", SUPERVISOR, "*"))).status).toBe(400);
  });
});
