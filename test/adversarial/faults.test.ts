/**
 * Fault injection against the real Worker (createApp().fetch with ORIGIN_URL pointed at the fault
 * origin of test/setup/fault-origin.global.ts), the real TaskLedger, and, for the revocation race,
 * the real demo origin.
 *
 * Not here, because it is covered with real processes: the authority restarted mid-task with
 * persisted state (handles still verify, revocations still hold) is in
 * test/e2e/authority.e2e.test.ts ("keeps handles and revocations across a restart of the
 * authority") and test/e2e/start-script.e2e.test.ts.
 */
import { describe, expect, inject, it } from "vitest";
import { adminFetch, devToken, forwardedFor, McpSession, originReceived, readReply, type Identity } from "../support/mcp-client.js";
import {
  allowedCounts,
  auditOf,
  baseEnv,
  callApp,
  claimsOf,
  envWithFailingLedger,
  FAULT_TASK_PREFIX,
  faultEnv,
  faultReceived,
  handlesIn,
  ledgerRecord,
  mcpRequest,
  messagesOf,
  setSwitch,
  SLOW_MS,
  uniqueTenant,
  verifyAudit,
  type Outcome,
} from "./fault-support.js";
import type { WorkerEnv } from "../../src/config.js";

const ORIGIN_UNREACHABLE = "The origin MCP server could not be reached";
const ORIGIN_INVALID = "The origin MCP server returned an invalid response";

let sequence = 0;
function identity(prefix: string): Identity {
  return { tenant: uniqueTenant(prefix), client_id: "fault-cli", sub: `s${sequence++}` };
}

function createCall(id: number | string = 1) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow_echo", arguments: { text: "x" }, task: { ttl: 60_000 } } };
}

function followUp(method: string, handle: string, id: number | string = 2) {
  return { jsonrpc: "2.0", id, method, params: { taskId: handle } };
}

/** Common to every fault: no exception escaped, no 500, no origin id in what the client saw. */
function expectNoCrashNoLeak(outcome: Outcome, allowOriginIdInText = false): void {
  expect(outcome.thrown, `the Worker threw: ${String(outcome.thrown)}`).toBeUndefined();
  expect(outcome.status, `HTTP 500: ${outcome.text}`).not.toBe(500);
  if (!allowOriginIdInText) expect(outcome.text, "an origin task id reached the client").not.toContain(FAULT_TASK_PREFIX);
}

/** A JSON-RPC error answer with the given HTTP status and code, and a message saying what happened. */
function expectRpcError(outcome: Outcome, status: number, code: number, message: string | RegExp): void {
  expect(outcome.status, outcome.text).toBe(status);
  expect(outcome.contentType).toContain("application/json");
  const body = JSON.parse(outcome.text);
  expect(body.jsonrpc).toBe("2.0");
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
}

/** Every handle the client saw is recorded in its tenant's ledger, for an origin task of the fault origin. */
async function expectHandlesRecorded(text: string, tenant: string): Promise<string[]> {
  const handles = handlesIn(text);
  for (const handle of handles) {
    const claims = claimsOf(handle)!;
    expect(claims.tenant).toBe(tenant);
    const record = await ledgerRecord(tenant, claims.jti);
    expect(record, `handle ${claims.jti} was minted without a ledger record`).toBeDefined();
    expect(record!.taskId.startsWith(FAULT_TASK_PREFIX)).toBe(true);
    expect(JSON.stringify(claims), "a client handle names its origin task").not.toContain(record!.taskId);
  }
  return handles;
}

async function issuedCount(tenant: string): Promise<number> {
  return (await auditOf(tenant)).filter((row) => row.type === "issued").length;
}

// ---------------------------------------------------------------------------------------------

describe("the origin fails while a task is being created (tools/call with params.task)", () => {
  const refused: Array<[mode: string, status: number, message: string]> = [
    ["down", 502, ORIGIN_UNREACHABLE],
    ["garbage", 502, ORIGIN_INVALID],
    ["garbage-html", 502, ORIGIN_INVALID],
    ["empty-json", 502, ORIGIN_INVALID],
    ["batch", 502, ORIGIN_INVALID],
    // A JSON body cut off mid-way (content-length not reached, socket closed) is an invalid response too.
    ["truncated-json", 502, ORIGIN_INVALID],
  ];
  for (const [mode, status, message] of refused) {
    it(`/${mode}: ${status} / -32603 "${message}", and no handle is minted`, async () => {
      const who = identity(`f-${mode}`);
      const token = await devToken(who);
      const outcome = await callApp(faultEnv(`/${mode}/create`), mcpRequest(token, createCall()));
      expectNoCrashNoLeak(outcome);
      expectRpcError(outcome, status, -32603, message);
      expect(JSON.parse(outcome.text).id).toBe(1);
      expect(handlesIn(outcome.text)).toEqual([]);
      expect(await issuedCount(who.tenant)).toBe(0);
    });
  }

  it("origin down (connection refused on a closed port): 502 / -32603, nothing minted", async () => {
    const who = identity("f-refused");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv(inject("closedOriginUrl")), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expectRpcError(outcome, 502, -32603, ORIGIN_UNREACHABLE);
    expect(await issuedCount(who.tenant)).toBe(0);
  });

  it("/5xx: the origin's 503 JSON-RPC error is relayed as an error, nothing minted", async () => {
    const who = identity("f-5xx");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv("/5xx/create"), mcpRequest(token, createCall()));
    // The origin named an id of its own in its error text; on a creation call no handle exists for
    // it yet, so there is nothing to scrub it to (the origin is trusted not to do this).
    expectNoCrashNoLeak(outcome, true);
    expectRpcError(outcome, 503, -32603, /unavailable/);
    expect(await issuedCount(who.tenant)).toBe(0);
  });

  it("/redirect: the redirect is not followed and not answered as a success", async () => {
    const who = identity("f-redirect");
    const token = await devToken(who);
    const before = (await faultReceived()).filter((r) => r.path === "/ok/redirect-target").length;
    const outcome = await callApp(faultEnv("/redirect/create"), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expectRpcError(outcome, 502, -32603, "The origin MCP server returned an invalid response");
    expect((await faultReceived()).filter((r) => r.path === "/ok/redirect-target").length).toBe(before);
    expect(await issuedCount(who.tenant)).toBe(0);
    console.log(`[faults] origin 307 → client sees HTTP ${outcome.status} ${JSON.stringify(outcome.text)}`);
  });

  it("/slow: a slow origin is waited for, and the task is created normally", async () => {
    const who = identity("f-slow");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv("/slow/create"), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    expect(outcome.endedAfterMs).toBeGreaterThanOrEqual(SLOW_MS - 100);
    const handles = await expectHandlesRecorded(outcome.text, who.tenant);
    expect(handles).toHaveLength(1);
  });

  it("/slow-sse: a slow stream is relayed event by event (not buffered), then ends cleanly", async () => {
    const who = identity("f-slow-sse");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv("/slow-sse/create"), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    expect(outcome.streamError).toBeUndefined();
    expect(outcome.firstChunkAfterMs!).toBeLessThan(outcome.endedAfterMs - SLOW_MS / 2);
    const messages = messagesOf(outcome);
    expect(messages[0]).toMatchObject({ method: "notifications/message" });
    expect(messages.at(-1)?.result?.task?.taskId).toEqual(expect.any(String));
    expect(await expectHandlesRecorded(outcome.text, who.tenant)).toHaveLength(1);
  });

  it("/bad-sse: malformed events are dropped, unowned task ids never shown, the stream ends cleanly", async () => {
    const who = identity("f-bad-sse");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv("/bad-sse/create"), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    expect(outcome.streamError).toBeUndefined();
    const messages = messagesOf(outcome); // throws if any forwarded event is not JSON
    for (const message of messages) expect(message).toMatchObject({ jsonrpc: "2.0" });
    expect(messages.at(-1)?.result?.task?.taskId).toEqual(expect.any(String));
    expect(await expectHandlesRecorded(outcome.text, who.tenant)).toHaveLength(1);
  });

  it("/disconnect: half an SSE stream then a dead socket errors or ends the stream, without leaking origin ids", async () => {
    const who = identity("f-disconnect");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv("/disconnect/create"), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    console.log(`[faults] /disconnect on create: stream ${outcome.streamError ? `errored (${String(outcome.streamError)})` : "ended"}, body ${JSON.stringify(outcome.text)}`);
    await expectHandlesRecorded(outcome.text, who.tenant);
  });

  it("/sse-create-then-die: the creation event carries a recorded handle, then the stream stops without leaking", async () => {
    const who = identity("f-sse-die");
    const token = await devToken(who);
    const outcome = await callApp(faultEnv("/sse-create-then-die/create"), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    const handles = await expectHandlesRecorded(outcome.text, who.tenant);
    expect(handles).toHaveLength(1);
    // Whatever reached the ledger reached the client: one issued event, the one handle shown.
    const issued = (await auditOf(who.tenant)).filter((row) => row.type === "issued");
    expect(issued.map((row) => row.jti)).toEqual([claimsOf(handles[0]!)!.jti]);
  });
});

describe("the origin fails after the task exists (same ORIGIN_URL, so the handle's audience holds)", () => {
  it("/create-then-die: the handle is recorded; polls and results then get 502 / -32603, each audited as allowed", async () => {
    const who = identity("f-ctd");
    const token = await devToken(who);
    const targetEnv = faultEnv("/create-then-die/a");
    const created = await callApp(targetEnv, mcpRequest(token, createCall()));
    expectNoCrashNoLeak(created);
    expect(created.status).toBe(200);
    const [handle] = await expectHandlesRecorded(created.text, who.tenant);
    expect(handle).toBeDefined();
    for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
      const outcome = await callApp(targetEnv, mcpRequest(token, followUp(method, handle!, 7)));
      expectNoCrashNoLeak(outcome);
      expectRpcError(outcome, 502, -32603, ORIGIN_UNREACHABLE);
      expect(JSON.parse(outcome.text).id).toBe(7);
    }
    const jti = claimsOf(handle!)!.jti;
    const counts = allowedCounts(await auditOf(who.tenant));
    expect([counts.get(`${jti}|get`), counts.get(`${jti}|result`), counts.get(`${jti}|cancel`)]).toEqual([1, 1, 1]);
    expect((await verifyAudit(who.tenant)).valid).toBe(true);
  });

  const afterCreation: Array<[mode: string, check: (outcome: Outcome, handle: string) => void]> = [
    ["down", (o) => expectRpcError(o, 502, -32603, ORIGIN_UNREACHABLE)],
    ["garbage", (o) => expectRpcError(o, 502, -32603, ORIGIN_INVALID)],
    ["empty-json", (o) => expectRpcError(o, 502, -32603, ORIGIN_INVALID)],
    ["batch", (o) => expectRpcError(o, 502, -32603, ORIGIN_INVALID)],
    ["truncated-json", (o) => expectRpcError(o, 502, -32603, ORIGIN_INVALID)],
    // The origin's own JSON-RPC error names its task id: the client sees the handle instead.
    ["5xx", (o, handle) => {
      expectRpcError(o, 503, -32603, /unavailable/);
      expect(o.text).toContain(handle);
    }],
    // A plain-text error page naming the task id must not carry the origin id to the client either.
    ["5xx-text", (o) => expect([502, 503]).toContain(o.status)],
    ["slow", (o, handle) => {
      expect(o.status).toBe(200);
      expect(JSON.parse(o.text).result.taskId).toBe(handle);
    }],
    ["bad-sse", (o, handle) => {
      expect(o.status).toBe(200);
      expect(o.streamError).toBeUndefined();
      expect(messagesOf(o).at(-1)?.result?.taskId).toBe(handle);
    }],
    ["disconnect", (o) => expect(o.status).toBe(200)],
    ["ok-sse", (o, handle) => {
      expect(o.status).toBe(200);
      const messages = messagesOf(o);
      expect(messages[0]).toMatchObject({ method: "notifications/tasks/status", params: { taskId: handle } });
      expect(messages.at(-1)?.result?.taskId).toBe(handle);
    }],
  ];
  for (const [mode, check] of afterCreation) {
    it(`tasks/get meets /${mode}: a clear answer, no crash, no origin id, audited and forwarded once`, async () => {
      const who = identity(`f-after-${mode}`);
      const token = await devToken(who);
      const key = `after-${mode}-${crypto.randomUUID().slice(0, 6)}`;
      await setSwitch(key, "ok");
      const targetEnv = faultEnv(`/switch/${key}`);
      const created = await callApp(targetEnv, mcpRequest(token, createCall()));
      expect(created.status).toBe(200);
      const [handle] = await expectHandlesRecorded(created.text, who.tenant);
      await setSwitch(key, mode);
      const outcome = await callApp(targetEnv, mcpRequest(token, followUp("tasks/get", handle!, 3)));
      expectNoCrashNoLeak(outcome);
      check(outcome, handle!);
      await expectHandlesRecorded(outcome.text, who.tenant);
      // The decision was made and audited before the origin failed; the origin saw the call once, with the handle.
      const jti = claimsOf(handle!)!.jti;
      expect(allowedCounts(await auditOf(who.tenant)).get(`${jti}|get`)).toBe(1);
      const seen = (await faultReceived()).filter((r) => r.path === `/switch/${key}` && r.method === "tasks/get");
      expect(seen).toHaveLength(1);
      // The origin receives its own copy of the handle (same jti), naming its task.
      const forwardedClaims = claimsOf(seen[0]!.handle!)!;
      expect(forwardedClaims.jti).toBe(jti);
      expect(seen[0]!.taskId).toBe((await ledgerRecord(who.tenant, jti))!.taskId);
      expect(forwardedClaims.task).toBe(seen[0]!.taskId);
    });
  }

  it("tasks/result meets /disconnect mid-stream: the stream stops, nothing about the origin task leaks", async () => {
    const who = identity("f-result-disc");
    const token = await devToken(who);
    const key = `result-disc-${crypto.randomUUID().slice(0, 6)}`;
    await setSwitch(key, "ok");
    const targetEnv = faultEnv(`/switch/${key}`);
    const created = await callApp(targetEnv, mcpRequest(token, createCall()));
    const [handle] = await expectHandlesRecorded(created.text, who.tenant);
    await setSwitch(key, "disconnect");
    const outcome = await callApp(targetEnv, mcpRequest(token, followUp("tasks/result", handle!, 4)));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    // The status notification about the caller's own task shows the handle; the half-sent answer is not passed on.
    const relayed = messagesOf({ contentType: outcome.contentType, text: outcome.text });
    expect(relayed.map((m) => [m.method, m.params?.taskId])).toEqual([["notifications/tasks/status", handle]]);
    console.log(`[faults] /disconnect on tasks/result: stream ${outcome.streamError ? `errored (${String(outcome.streamError)})` : "ended"}`);
  });
});

// ---------------------------------------------------------------------------------------------

describe("fail closed when the ledger cannot answer (extends test/gateway/fail-closed.test.ts)", () => {
  it("a follow-up is refused 503 / -32603 and never reaches the origin when authorize fails", async () => {
    const who = identity("l-authorize");
    const token = await devToken(who);
    const targetEnv = faultEnv("/ok/ledger-authorize");
    const created = await callApp(targetEnv, mcpRequest(token, createCall()));
    const [handle] = await expectHandlesRecorded(created.text, who.tenant);
    const before = (await faultReceived()).filter((r) => r.path === "/ok/ledger-authorize").length;
    for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
      const outcome = await callApp(envWithFailingLedger(targetEnv, ["authorize"]), mcpRequest(token, followUp(method, handle!)));
      expectNoCrashNoLeak(outcome);
      expectRpcError(outcome, 503, -32603, "Task authority temporarily unavailable");
    }
    expect((await faultReceived()).filter((r) => r.path === "/ok/ledger-authorize").length).toBe(before);
  });

  it("a refused handle whose refusal cannot be recorded is 503 and not forwarded", async () => {
    const who = identity("l-refusal");
    const token = await devToken(who);
    const targetEnv = envWithFailingLedger(faultEnv("/ok/ledger-refusal"), ["recordRefusal"]);
    const outcome = await callApp(targetEnv, mcpRequest(token, followUp("tasks/get", "eyJhbGciOiJub25lIn0.e30.")));
    expectNoCrashNoLeak(outcome);
    expectRpcError(outcome, 503, -32603, "Task authority temporarily unavailable");
    expect((await faultReceived()).filter((r) => r.path === "/ok/ledger-refusal")).toEqual([]);
  });

  it("a creation is not forwarded when the creation rate cannot be checked", async () => {
    const who = identity("l-rate");
    const token = await devToken(who);
    const outcome = await callApp(envWithFailingLedger(faultEnv("/ok/ledger-rate"), ["reserveCreation"]), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expectRpcError(outcome, 503, -32603, "Task authority temporarily unavailable");
    expect((await faultReceived()).filter((r) => r.path === "/ok/ledger-rate")).toEqual([]);
  });

  it("a task the ledger cannot record gets no handle (JSON answer): 503 / -32603, no origin id", async () => {
    const who = identity("l-issue-json");
    const token = await devToken(who);
    const outcome = await callApp(envWithFailingLedger(faultEnv("/ok/ledger-issue"), ["issue"]), mcpRequest(token, createCall()));
    expectNoCrashNoLeak(outcome);
    expectRpcError(outcome, 503, -32603, "Task authority temporarily unavailable");
    expect(handlesIn(outcome.text)).toEqual([]);
    expect(await issuedCount(who.tenant)).toBe(0);
  });

  it("a task the ledger cannot record gets no handle (SSE answer): a -32603 error event, no origin id, clean end", async () => {
    const who = identity("l-issue-sse");
    const token = await devToken(who);
    const outcome = await callApp(envWithFailingLedger(faultEnv("/ok-sse/ledger-issue"), ["issue"]), mcpRequest(token, createCall(9)));
    expectNoCrashNoLeak(outcome);
    expect(outcome.status).toBe(200);
    expect(outcome.streamError).toBeUndefined();
    expect(messagesOf(outcome).at(-1)).toMatchObject({ jsonrpc: "2.0", id: 9, error: { code: -32603, message: "Task authority temporarily unavailable" } });
    expect(handlesIn(outcome.text)).toEqual([]);
    expect(await issuedCount(who.tenant)).toBe(0);
  });

  it("tasks/list whose tasks cannot be resolved to handles is refused without showing origin ids (JSON and SSE)", async () => {
    const who = identity("l-list");
    const token = await devToken(who);
    for (const path of ["/ok/ledger-list", "/ok-sse/ledger-list"]) {
      const created = await callApp(faultEnv(path), mcpRequest(token, createCall()));
      expect(created.status).toBe(200);
      const outcome = await callApp(envWithFailingLedger(faultEnv(path), ["ownedHandles"]), mcpRequest(token, { jsonrpc: "2.0", id: 5, method: "tasks/list", params: {} }));
      expectNoCrashNoLeak(outcome);
      const last = messagesOf(outcome).at(-1);
      expect(last).toMatchObject({ id: 5, error: { code: -32603 } });
    }
  });

  const adminSurfaces: Array<[label: string, call: (env: WorkerEnv, handle: string, token: string) => Promise<Outcome>]> = [
    ["POST /admin/revocations", (e, handle) => callApp(e, new Request("https://taskward.test/admin/revocations", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer test-admin-token" }, body: JSON.stringify({ handle }) }))],
    ["POST /revoke (RFC 7009)", (e, handle, token) => callApp(e, new Request("https://taskward.test/revoke", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${token}` }, body: `token=${handle}` }))],
    ["POST /introspect (RFC 7662)", (e, handle) => callApp(e, new Request("https://taskward.test/introspect", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Bearer test-introspection-token" }, body: `token=${handle}` }))],
  ];
  for (const [label, call] of adminSurfaces) {
    it(`${label} with the ledger down never claims success`, async () => {
      const session = await McpSession.open(identity("l-admin"));
      const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
      const outcome = await call(envWithFailingLedger(baseEnv, "all"), handle, session.token);
      expect(outcome.thrown).toBeUndefined();
      expect(outcome.status).not.toBe(200);
      expect(outcome.text).not.toMatch(/"active":\s*true|"revoked":\s*1/);
    });
    it(`${label} with the ledger down answers 503 (not 500)`, async () => {
      const session = await McpSession.open(identity("l-admin5"));
      const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
      const outcome = await call(envWithFailingLedger(baseEnv, "all"), handle, session.token);
      expect(outcome.status, `${label}: ${outcome.status} ${outcome.text}`).toBe(503);
    });
  }
});

// ---------------------------------------------------------------------------------------------

interface Poll {
  id: string;
  sentAt: number;
  doneAt: number;
  status: number;
  outcome: "result" | "error";
  code?: number;
}

/**
 * Many tasks/get in flight on one handle while an operator revokes it. Strong consistency: every
 * poll sent after the revoke call returned is refused and never reaches the origin; the audit
 * chain has no `allowed` for the handle after its revocation; the origin saw exactly the polls the
 * ledger allowed.
 */
async function revocationRace(revokeBody: (tenant: string, jti: string, who: Identity) => unknown): Promise<void> {
  const who = identity("race");
  const session = await McpSession.open(who);
  const { handle } = await session.createTask("slow_echo", { text: "race", delayMs: 20_000 });
  const { jti } = claimsOf(handle)!;
  const polls: Poll[] = [];
  // Phases are driven by poll counts, not timers: inside workerd a busy loop of requests starves
  // setTimeout (and a few requests) until it stops, so a timer-driven race never ends.
  const POLLERS = 8;
  const POLLS_BEFORE_REVOKE = 40;
  const POLLS_AFTER_REVOKE = 60;
  let stop = false;
  let counter = 0;
  let revokeSentAt = 0;
  let revokeDoneAt = 0;
  let revokeStatus = 0;
  let revoking: Promise<void> | undefined;
  async function revokeNow(): Promise<void> {
    revokeSentAt = Date.now();
    const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify(revokeBody(who.tenant, jti, who)) });
    revokeDoneAt = Date.now();
    revokeStatus = response.status;
  }
  async function poller(): Promise<void> {
    while (!stop) {
      const id = `poll-${counter++}`;
      const sentAt = Date.now();
      const response = await session.post({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: handle } });
      const body = (await readReply(response, id)).reply ?? {};
      polls.push({ id, sentAt, doneAt: Date.now(), status: response.status, outcome: body.result ? "result" : "error", code: body.error?.code });
      if (polls.length >= POLLS_BEFORE_REVOKE) revoking ??= revokeNow();
      if (revokeDoneAt > 0 && polls.filter((p) => p.sentAt > revokeDoneAt).length >= POLLS_AFTER_REVOKE) stop = true;
    }
  }
  const running = Array.from({ length: POLLERS }, () => poller());
  await Promise.all(running);
  await revoking;
  expect(revokeStatus).toBe(200);

  const after = polls.filter((p) => p.sentAt > revokeDoneAt);
  const before = polls.filter((p) => p.doneAt < revokeSentAt);
  expect(before.length).toBeGreaterThan(0);
  expect(before.every((p) => p.outcome === "result")).toBe(true);
  expect(after.length).toBeGreaterThan(0);
  for (const poll of after) expect(poll.outcome, JSON.stringify(poll)).toBe("error");

  const forwarded = (await originReceived()).filter((m) => m.method === "tasks/get" && forwardedFor(m, handle)) as Array<{ at: number; id?: unknown }>;
  const pollById = new Map(polls.map((p) => [p.id, p]));
  // Zero forwarded polls among those sent after the revoke call returned.
  const forwardedAfter = forwarded.filter((m) => (pollById.get(String(m.id))?.sentAt ?? Infinity) > revokeDoneAt);
  expect(forwardedAfter).toEqual([]);
  // Timestamps: a poll may only reach the origin after revokeDoneAt if the ledger allowed it before the revocation (in flight).
  const late = forwarded.filter((m) => m.at > revokeDoneAt);
  for (const m of late) expect(pollById.get(String(m.id))!.sentAt).toBeLessThanOrEqual(revokeDoneAt);

  // Audit order: nothing allowed for this handle after it was revoked; the origin saw exactly what was allowed.
  const rows = await auditOf(who.tenant);
  const revokedIndex = rows.findIndex((r) => r.type === "revoked" && (r.jti === jti || r.jti === null));
  expect(revokedIndex).toBeGreaterThan(-1);
  const revokedRow = rows[revokedIndex]!;
  const allowedRows = rows.filter((r) => r.type === "allowed" && r.jti === jti);
  for (const row of allowedRows) {
    expect(row.seq).toBeLessThan(revokedRow.seq);
    expect(row.last_at).toBeLessThanOrEqual(revokedRow.at);
  }
  const later = rows.slice(revokedIndex + 1).filter((row) => row.jti === jti);
  expect(later.length).toBeGreaterThan(0);
  expect(new Set(later.map((row) => row.type))).toEqual(new Set(["denied"]));
  const allowedTotal = allowedRows.reduce((sum, row) => sum + row.count, 0);
  expect(forwarded.length).toBe(allowedTotal);
  expect(polls.filter((p) => p.outcome === "result").length).toBe(allowedTotal);
  expect((await verifyAudit(who.tenant)).valid).toBe(true);
  console.log(
    `[faults] revocation race ${JSON.stringify(revokeBody("T", "J", who))}: ${polls.length} polls by ${POLLERS} pollers, ${allowedTotal} allowed+forwarded, ` +
      `${after.length} sent after the revoke returned (all refused: ${[...new Set(after.map((p) => `${p.status}/${p.code}`))].join(",")}), ` +
      `revoke took ${revokeDoneAt - revokeSentAt} ms, ${late.length} in-flight polls reached the origin after it returned`,
  );
}

describe("concurrent revocation and polling (real demo origin, real ledger)", () => {
  it("revoking one handle ({tenant, jti}) while polls are in flight: no poll forwarded once the revoke call returned", async () => {
    await revocationRace((tenant, jti) => ({ tenant, jti, reason: "race" }));
  });

  it("revoking the subject's handles (watermark) while polls are in flight: the same guarantee", async () => {
    await revocationRace((tenant, _jti, who) => ({ tenant, sub: who.sub, reason: "race-watermark" }));
  });
});
