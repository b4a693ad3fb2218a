/**
 * Issue 14: when counted repeats are written. An idle object's alarm writes them IDLE_FLUSH_MS after
 * the last decision (before it may hibernate); a busy object's alarm finds recent decisions and
 * re-arms without writing, until BUSY_FLUSH_MS after the first unwritten repeat. What a restart can
 * lose is the repeats since the last write: fewer than MAX_UNWRITTEN_REPEATS, none older than BUSY_FLUSH_MS.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { BUSY_FLUSH_MS, IDLE_FLUSH_MS, MAX_UNWRITTEN_REPEATS, type AuditInput, type AuditLog } from "../../src/ledger/audit-log.js";
import { TaskLedger } from "../../src/ledger/task-ledger.js";
import { ledgerWithOneTask, type LedgerStub } from "../pinned/ledger-support.js";

const auditOf = (instance: TaskLedger) => (instance as unknown as { audit: AuditLog }).audit;

function counts(stub: LedgerStub) {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql.exec<{ type: string; count: number }>(`SELECT type, count FROM audit ORDER BY seq`).toArray().map((r) => `${r.type}:${r.count}`),
  );
}

async function pollingLedger() {
  const { tenant, stub, alice } = await ledgerWithOneTask("flush"); // its issue also arms the expiry alarm, so runDurableObjectAlarm has one to run
  // A tenant's first alarm signs its first periodic checkpoint (which writes counts first); the next is an hour away.
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect(await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_checkpoints`).one().n)).toBe(1);
  return { tenant, stub, alice };
}

// An allowed span's decision as appendAllowed folds it (its count is added to its first event while that is the head).
const allowed: AuditInput = { type: "allowed", jti: "j1", op: "get", principal: { clientId: "c1", subject: "alice" }, detail: { policy: "v1" } };

describe("the flush schedule of counted repeats", () => {
  it("a busy object's alarm writes no count before it is due and re-arms for the last decision + IDLE_FLUSH_MS", async () => {
    const { tenant, stub, alice } = await pollingLedger();
    await stub.authorize(tenant, "j1", "get", alice);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) await stub.authorize(tenant, "j1", "get", alice);
      const lastDecision = Date.now();
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect(await counts(stub)).toEqual(["issued:1", "allowed:1"]);
      const rearmed = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
      expect(rearmed).not.toBeNull();
      expect(rearmed!).toBeLessThanOrEqual(lastDecision + IDLE_FLUSH_MS);
    }
    // Nothing was lost: the export writes the 9 repeats onto the first event.
    expect((await stub.auditEvents(tenant)).events.filter((e) => e.type === "allowed").map((e) => e.count)).toEqual([10]);
  });

  it(`repeats first counted ${BUSY_FLUSH_MS} ms ago are written by the alarm although decisions keep coming; ${BUSY_FLUSH_MS - 10_000} ms ago are not`, async () => {
    const { stub } = await pollingLedger();
    // The span's decisions at given times (fold takes the time): one a second, the newest 1 s ago.
    const poll = (ageOfFirstMs: number) =>
      runInDurableObject(stub, (instance) => {
        const audit = auditOf(instance);
        const now = Date.now();
        for (let age = ageOfFirstMs; age >= 1000; age -= 1000) audit.fold(`busy-${ageOfFirstMs}`, allowed, now - age, true);
        return audit.flushDueAt()! - now;
      });
    const dueIn = await poll(BUSY_FLUSH_MS - 10_000 + 1000); // first event 51 s ago, 50 repeats since (the first 50 s ago), newest 1 s ago
    expect(dueIn).toBeGreaterThan(0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await counts(stub)).toEqual(["issued:1", "allowed:1"]);

    // A new span (a new first event: a change, which writes the first span's 50 repeats), then 61 repeats, the first 61 s ago.
    const overdue = await poll(BUSY_FLUSH_MS + 2000);
    expect(await counts(stub)).toEqual(["issued:1", "allowed:51", "allowed:1"]);
    expect(overdue).toBeLessThanOrEqual(0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await counts(stub)).toEqual(["issued:1", "allowed:51", "allowed:62"]);
    expect(await runInDurableObject(stub, (instance) => auditOf(instance).flushDueAt())).toBeUndefined();
  });

  it("a steady poller for 5 minutes (AuditLog's flush schedule, driven as alarm() and armFlushAlarm drive it, on a given clock): counts written once a minute, never older than BUSY_FLUSH_MS, and they sum to the decisions", async () => {
    const { stub } = await pollingLedger();
    const run = await runInDurableObject(stub, (_instance, state) => {
      const audit = auditOf(_instance);
      const start = Date.now() - 600_000;
      const headCount = () => state.storage.sql.exec<{ n: number }>(`SELECT COALESCE(SUM(count), 0) AS n FROM audit WHERE type = 'allowed'`).one().n;
      let alarmAt = Number.POSITIVE_INFINITY;
      let alarms = 0;
      let writes = 0;
      let worstAgeMs = 0;
      let worstUnwritten = 0;
      let decisions = 0;
      let firstUnwrittenAt: number | undefined;
      const runAlarmsUntil = (t: number) => {
        while (alarmAt <= t) {
          const at = alarmAt;
          alarms += 1;
          if (audit.flushIfDue(at)) {
            writes += 1;
            firstUnwrittenAt = undefined;
          }
          alarmAt = audit.flushDueAt() ?? Number.POSITIVE_INFINITY; // what alarm() re-arms
        }
      };
      for (let t = start; t < start + 300_000; t += 1000) {
        runAlarmsUntil(t);
        if (firstUnwrittenAt !== undefined) worstAgeMs = Math.max(worstAgeMs, t - firstUnwrittenAt);
        worstUnwritten = Math.max(worstUnwritten, decisions - headCount());
        if (audit.fold("steady", allowed, t, true)) {
          firstUnwrittenAt = t;
          alarmAt = Math.min(alarmAt, audit.flushDueAt()!); // what armFlushAlarm arms
        }
        decisions += 1;
      }
      const lastDecision = start + 299_000;
      runAlarmsUntil(lastDecision + IDLE_FLUSH_MS); // idle: the next alarm writes the rest
      return { alarms, writes, worstAgeMs, worstUnwritten, decisions, written: headCount(), left: audit.flushDueAt() };
    });
    expect(run.decisions).toBe(300);
    expect(run.written).toBe(300);
    expect(run.left).toBeUndefined();
    expect(run.writes).toBe(5); // 4 at the busy bound + 1 after idling, not one per IDLE_FLUSH_MS
    expect(run.worstAgeMs).toBeLessThan(BUSY_FLUSH_MS);
    expect(run.worstUnwritten).toBeLessThan(MAX_UNWRITTEN_REPEATS);
    expect(run.alarms).toBeGreaterThanOrEqual(50); // the alarm still comes every IDLE_FLUSH_MS or so: it re-arms without writing
  });

  it("a fresh instance (eviction, restart, deploy) loses at most the repeats since the last write, never a first event", async () => {
    const { tenant, stub, alice } = await pollingLedger();
    for (let i = 0; i < 20; i++) await stub.authorize(tenant, "j1", "get", alice);
    await runDurableObjectAlarm(stub); // busy: not due, writes nothing
    const bound = await runInDurableObject(stub, (instance) => {
      const audit = auditOf(instance) as unknown as { unwritten: number; firstUnwrittenAt: number; flushDueAt(): number };
      return { unwritten: audit.unwritten, dueAfterFirst: audit.flushDueAt() - audit.firstUnwrittenAt };
    });
    expect(bound.unwritten).toBe(19);
    expect(bound.dueAfterFirst).toBeLessThanOrEqual(BUSY_FLUSH_MS);
    const afterRestart = await runInDurableObject(stub, (_instance, state) => {
      const fresh = new TaskLedger(state, env as unknown as WorkerEnv);
      return fresh.auditEvents(tenant).events.map((e) => `${e.type}:${e.count}`);
    });
    expect(afterRestart).toEqual(["issued:1", "allowed:1"]); // the 19 unwritten repeats are what was lost
  });
});
