/**
 * Issue 14: repeats of a decision are counted in the object's memory, not written per request.
 * The first allowed decision of a span (caller, handle, operation, policy version) is written in
 * the decision's own transaction; its repeats are written as one count on the next change, by the
 * alarm once due (IDLE_FLUSH_MS after the last decision, BUSY_FLUSH_MS after the first unwritten
 * repeat: test/ledger/audit-flush-schedule.test.ts), or at MAX_UNWRITTEN_REPEATS, and an export writes them first.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { IDLE_FLUSH_MS, MAX_UNWRITTEN_REPEATS } from "../../src/ledger/audit-log.js";
import { TaskLedger } from "../../src/ledger/task-ledger.js";
import type { LedgerPrincipal } from "../../src/ledger/types.js";
import { parseTaskPolicy, rulesInForce } from "../../src/policy/task-policy.js";
import { freshTenant, issueRecord, ledgerOf, ledgerWithOneTask, type LedgerStub } from "../pinned/ledger-support.js";
import { meterLedgerSql } from "../../bench/shared/metered-sql.js";

/** The audit rows as stored now: no export, so nothing is flushed by reading them. */
function storedRows(stub: LedgerStub) {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql.exec<{ seq: number; type: string; jti: string | null; op: string | null; subject: string | null; count: number; detail: string | null }>(`SELECT seq, type, jti, op, subject, count, detail FROM audit ORDER BY seq`).toArray(),
  );
}

/** Runs `call` on the live instance with every SQL cursor it opens counted (the ledger's, the audit log's, the rate limiters'): the rows it wrote. */
function metered<T>(stub: LedgerStub, call: (instance: TaskLedger) => T): Promise<{ result: T; rowsWritten: number }> {
  return runInDurableObject(stub, (instance) => {
    const { result, rowsWritten } = meterLedgerSql(instance, () => call(instance));
    return { result, rowsWritten };
  });
}

async function meteredAuthorize(stub: LedgerStub, tenant: string, jti: string, who: LedgerPrincipal): Promise<{ allowed: boolean; rowsWritten: number }> {
  const { result, rowsWritten } = await metered(stub, (instance) => instance.authorize(tenant, jti, "get", who));
  return { allowed: result.allowed, rowsWritten };
}

function policyVersion(version: string, bind?: Array<"tenant" | "client" | "subject">) {
  const parsed = parseTaskPolicy(JSON.stringify({ default: bind ? { bind } : {} }));
  if (!("policy" in parsed)) throw new Error("bad test policy");
  return { rules: rulesInForce(parsed.policy, version, 86_400, "slow_echo") };
}

describe("repeated allowed polls are counted in memory", () => {
  it("the first poll writes its event; a repeat writes no row at all until flushed", async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    const first = await meteredAuthorize(stub, tenant, "j1", alice);
    expect(first.allowed).toBe(true);
    expect(first.rowsWritten).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i++) expect(await meteredAuthorize(stub, tenant, "j1", alice)).toEqual({ allowed: true, rowsWritten: 0 });
    expect((await storedRows(stub)).map((r) => `${r.type}:${r.count}`)).toEqual(["issued:1", "allowed:1"]);
  });

  it("after the export's flush the counts equal the decisions made (one event, head folded)", async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    for (let i = 0; i < 25; i++) expect(await stub.authorize(tenant, "j1", "get", alice)).toMatchObject({ allowed: true });
    const allowed = (await stub.auditEvents(tenant)).events.filter((e) => e.type === "allowed");
    expect(allowed.map((e) => e.count)).toEqual([25]);
    expect(allowed.reduce((sum, e) => sum + e.count, 0)).toBe(25);
    expect(await stub.verifyAudit(tenant)).toMatchObject({ valid: true, events: 2 });
  });

  it("the next change writes the counted repeats before itself: a new event, a status change", async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    for (let i = 0; i < 5; i++) await stub.authorize(tenant, "j1", "get", alice);
    await stub.issue(tenant, issueRecord(tenant, "j2"));
    expect((await storedRows(stub)).map((r) => `${r.type}:${r.jti}:${r.count}`)).toEqual(["issued:j1:1", "allowed:j1:5", "issued:j2:1"]);
    for (let i = 0; i < 3; i++) await stub.authorize(tenant, "j2", "get", alice);
    expect((await storedRows(stub)).at(-1)).toMatchObject({ type: "allowed", jti: "j2", count: 1 });
    // A status the origin reported for the first time is a change (a non-terminal one writes no event of its own).
    await stub.observeStatus(tenant, "origin-j2", "input_required");
    expect((await storedRows(stub)).at(-1)).toMatchObject({ type: "allowed", jti: "j2", count: 3 });
    expect(await stub.verifyAudit(tenant)).toMatchObject({ valid: true, events: 4 });
  });

  it(`the first unwritten repeat arms the alarm at most ${IDLE_FLUSH_MS} ms ahead; an alarm before then writes nothing, one after ${IDLE_FLUSH_MS} ms idle writes the counts`, async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    expect(await runDurableObjectAlarm(stub)).toBe(true); // the tenant's first alarm signs its first checkpoint (writing counts); the next is an hour away
    await stub.authorize(tenant, "j1", "get", alice);
    const before = Date.now();
    for (let i = 0; i < 4; i++) await stub.authorize(tenant, "j1", "get", alice);
    const alarm = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + IDLE_FLUSH_MS);
    expect(alarm!).toBeGreaterThanOrEqual(before);
    expect((await storedRows(stub)).map((r) => r.count)).toEqual([1, 1]);
    // Run now, before the counts are due: the last decision was under IDLE_FLUSH_MS ago.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedRows(stub)).map((r) => r.count)).toEqual([1, 1]);
    const rearmed = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(rearmed).not.toBeNull();
    expect(rearmed!).toBeLessThanOrEqual(Date.now() + IDLE_FLUSH_MS);
    // Idle past the due time: the alarm (the scheduled one, or this run of it) writes the counts.
    await new Promise((resolve) => setTimeout(resolve, IDLE_FLUSH_MS + 200));
    await runDurableObjectAlarm(stub);
    expect((await storedRows(stub)).map((r) => `${r.type}:${r.count}`)).toEqual(["issued:1", "allowed:5"]);
    const pending = await runInDurableObject(stub, (instance) => (instance as unknown as { audit: { unwritten: number } }).audit.unwritten);
    expect(pending).toBe(0);
  }, 30_000);

  it("writing a lone poller's counts rewrites its first event (one row); another span's counts are one counted event", async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    const writeCounts = () => metered(stub, (instance) => (instance as unknown as { writeCounts(): void }).writeCounts());
    for (let i = 0; i < 4; i++) await stub.authorize(tenant, "j1", "get", alice);
    expect((await writeCounts()).rowsWritten).toBe(1);
    await stub.issue(tenant, issueRecord(tenant, "j2"));
    await stub.authorize(tenant, "j1", "get", alice); // a repeat; its first event is no longer the head
    const counted = await writeCounts();
    expect(counted.rowsWritten).toBeGreaterThanOrEqual(1);
    expect((await storedRows(stub)).map((r) => `${r.type}:${r.jti}:${r.count}`)).toEqual(["issued:j1:1", "allowed:j1:4", "issued:j2:1", "allowed:j1:1"]);
  });

  it(`${MAX_UNWRITTEN_REPEATS} repeats in memory are written by the decision that reaches the bound`, async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    const counts = await runInDurableObject(stub, (instance, state) => {
      const headCount = () => state.storage.sql.exec<{ count: number }>(`SELECT count FROM audit ORDER BY seq DESC LIMIT 1`).one().count;
      instance.authorize(tenant, "j1", "get", alice);
      for (let i = 0; i < MAX_UNWRITTEN_REPEATS - 1; i++) instance.authorize(tenant, "j1", "get", alice);
      const belowBound = headCount();
      instance.authorize(tenant, "j1", "get", alice);
      return { belowBound, atBound: headCount() };
    });
    expect(counts).toEqual({ belowBound: 1, atBound: MAX_UNWRITTEN_REPEATS + 1 });
  });

  it("a fresh instance over the same storage (eviction, restart) has lost only the unwritten counts, never a first event", async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    for (let i = 0; i < 5; i++) await stub.authorize(tenant, "j1", "get", alice);
    await stub.recordRefusal(tenant, { ...alice, subject: "mallory" }, "handle_invalid", { code: "ERR_X" });
    for (let i = 0; i < 3; i++) await stub.authorize(tenant, "j1", "result", alice);
    for (let i = 0; i < 2; i++) await stub.recordRefusal(tenant, { ...alice, subject: "mallory" }, "handle_invalid", { code: "ERR_X" });
    // The live instance holds 2 result repeats and 2 refusal repeats in memory; a restarted object starts without them.
    const afterRestart = await runInDurableObject(stub, (_instance, state) => {
      const fresh = new TaskLedger(state, env as unknown as WorkerEnv);
      fresh.authorize(tenant, "j1", "result", alice);
      return fresh.auditEvents(tenant).events.map((e) => `${e.type}:${e.op ?? e.reason}:${e.count}`);
    });
    expect(afterRestart).toEqual([
      "issued:null:1",
      "allowed:get:5", // written before the refusal (a change)
      "denied:handle_invalid:1",
      "allowed:result:1", // the first result decision: durable before its answer
      "allowed:result:1", // after the restart: a new first event, not a repeat
    ]);
  });

  it("another caller, handle, operation or policy version is a new first event, written at once", async () => {
    const { tenant, stub, alice } = await ledgerWithOneTask("repeats");
    await stub.issue(tenant, issueRecord(tenant, "j2"));
    const bob = { ...alice, subject: "bob" };
    await stub.issue(tenant, issueRecord(tenant, "j3", { principal: bob, bind: ["tenant"] }));
    const decisions: Array<[string, string, LedgerPrincipal, ReturnType<typeof policyVersion> | undefined]> = [
      ["j1", "get", alice, undefined],
      ["j2", "get", alice, undefined], // another handle
      ["j1", "result", alice, undefined], // another operation
      ["j1", "get", alice, policyVersion("v2")], // another policy version
      ["j3", "get", bob, policyVersion("v1", ["tenant"])],
      ["j3", "get", alice, policyVersion("v1", ["tenant"])], // another caller (j3 binds only the tenant)
    ];
    let rows = (await storedRows(stub)).length;
    for (const [jti, op, who, extras] of decisions) {
      expect(await stub.authorize(tenant, jti, op as "get" | "result", who, undefined, extras)).toMatchObject({ allowed: true });
      const now = await storedRows(stub);
      expect(now.length).toBe(rows + 1);
      expect(now.at(-1)).toMatchObject({ type: "allowed", jti, op, subject: who.subject, count: 1 });
      rows = now.length;
    }
  });
});

describe("refusal counters are counted in memory too", () => {
  it("a repeated refusal below the limit writes no row (neither its audit count nor its rate window); the limit is written when reached and survives a restart", async () => {
    const tenant = freshTenant("refusals");
    const stub = ledgerOf(tenant);
    const mallory = { tenant, clientId: "c1", subject: "mallory" };
    const refuse = () => metered(stub, (instance) => instance.recordRefusal(tenant, mallory, "handle_invalid", { code: "ERR_X" }));
    const first = await refuse();
    expect(first.rowsWritten).toBeGreaterThanOrEqual(2); // its audit event and its rate window, before the answer
    // The test configuration allows 30 refusals a minute: 2..29 are counted in memory only.
    for (let i = 2; i < 30; i++) expect(await refuse()).toEqual({ result: { retryAfterSeconds: 0 }, rowsWritten: 0 });
    const stored = () => runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ count: number }>(`SELECT count FROM rate_windows WHERE kind = 'refusal'`).one().count);
    expect(await stored()).toBe(1);
    // A restart now would forget 28 counts of this window, not the window: a fresh instance counts on from 1.
    const restarted = await runInDurableObject(stub, (_instance, state) => new TaskLedger(state, env as unknown as WorkerEnv).recordRefusal(tenant, mallory, "handle_invalid", { code: "ERR_X" }));
    expect(restarted).toEqual({ retryAfterSeconds: 0 });
    const thirtieth = await refuse();
    expect(thirtieth.result.retryAfterSeconds).toBeGreaterThan(0);
    expect(thirtieth.rowsWritten).toBe(1); // the window reaching its limit
    expect(await stored()).toBe(30);
    const afterRestart = await runInDurableObject(stub, (_instance, state) => new TaskLedger(state, env as unknown as WorkerEnv).recordRefusal(tenant, mallory, "handle_invalid", { code: "ERR_X" }));
    expect(afterRestart.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe("the DPoP replay cache", () => {
  it("spending a proof writes one row; a replay is refused, also by a restarted object, and so is a proof spent by an earlier release", async () => {
    const tenant = freshTenant("proofs");
    const stub = ledgerOf(tenant);
    const expiresAt = Date.now() + 60_000;
    expect(await stub.spendProof(tenant, "jkt.first", expiresAt)).toBe(true);
    const spend = (key: string) => metered(stub, (instance) => instance.spendProof(tenant, key, expiresAt));
    expect(await spend("jkt.second")).toEqual({ result: true, rowsWritten: 1 });
    expect(await spend("jkt.second")).toEqual({ result: false, rowsWritten: 0 });
    // What the previous release stored: a live proof in dpop_proofs, and one whose window closed.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(`INSERT INTO dpop_proofs (proof_key, expires_at) VALUES ('jkt.legacy', ?), ('jkt.stale', ?)`, expiresAt, Date.now() - 1);
    });
    const afterRestart = await runInDurableObject(stub, (_instance, state) => {
      const fresh = new TaskLedger(state, env as unknown as WorkerEnv);
      return {
        replayed: fresh.spendProof(tenant, "jkt.second", expiresAt),
        legacy: fresh.spendProof(tenant, "jkt.legacy", expiresAt),
        stale: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM dpop_proofs WHERE proof_key = 'jkt.stale'`).one().n,
        fresh: fresh.spendProof(tenant, "jkt.third", expiresAt),
      };
    });
    expect(afterRestart).toEqual({ replayed: false, legacy: false, stale: 0, fresh: true });
  });
});
