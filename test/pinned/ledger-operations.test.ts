/**
 * Ledger operations an operator drives, pinned through the object's RPC methods: which in-flight
 * tasks a revocation scope selects for a supervisory cancel, and the withheld record on a ledger
 * that had recorded nothing before.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskLedger } from "../../src/ledger/task-ledger.js";
import { freshTenant, issueRecord, ledgerOf } from "./ledger-support.js";

describe("in-flight tasks of a revoked scope (supervisory cancel)", () => {
  it("each scope selects exactly its own principals' tasks", async () => {
    const tenant = freshTenant("inflight");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "alice-c1", { principal: { tenant, clientId: "c1", subject: "alice" } }));
    await ledger.issue(tenant, issueRecord(tenant, "bob-c1", { principal: { tenant, clientId: "c1", subject: "bob" } }));
    await ledger.issue(tenant, issueRecord(tenant, "alice-c2", { principal: { tenant, clientId: "c2", subject: "alice" } }));
    const selected = async (selector: Parameters<typeof ledger.inFlightTasks>[1]) =>
      (await ledger.inFlightTasks(tenant, selector, undefined, 10)).tasks.map((t) => t.jti).sort();

    expect(await selected({ scope: "subject", value: "alice" })).toEqual([]); // no watermark yet: nothing revoked, nothing to cancel
    await ledger.revokeScope(tenant, { scope: "subject", value: "alice" }, "test", "op");
    expect(await selected({ scope: "subject", value: "alice" })).toEqual(["alice-c1", "alice-c2"]);
    await ledger.revokeScope(tenant, { scope: "client", value: "c1" }, "test", "op");
    expect(await selected({ scope: "client", value: "c1" })).toEqual(["alice-c1", "bob-c1"]);
    await ledger.revokeScope(tenant, { scope: "tenant" }, "test", "op");
    expect(await selected({ scope: "tenant" })).toEqual(["alice-c1", "alice-c2", "bob-c1"]);
    expect(await selected({ jti: "bob-c1" })).toEqual(["bob-c1"]);
  });
});

describe("a withheld result recorded first", () => {
  it("binds the ledger to its tenant, so the record is in the tenant's export", async () => {
    const tenant = freshTenant("withheld-first");
    const ledger = ledgerOf(tenant);
    await ledger.recordWithheld(tenant, "j-withheld", { tenant, clientId: "c1", subject: "alice" }, { op: "get" });
    expect((await ledger.auditEvents(tenant)).events.map((e) => [e.type, e.jti])).toEqual([["withheld", "j-withheld"]]);
  });
});

describe("the alarm and periodic checkpoints", () => {
  it("signs a periodic checkpoint of a chain that has none, and schedules the next expiry", async () => {
    const tenant = freshTenant("alarm-first-checkpoint");
    const ledger = ledgerOf(tenant);
    const record = issueRecord(tenant, "j1", { expiresAt: Date.now() + 3 * 3_600_000 });
    await ledger.issue(tenant, record);
    const stub = ledger as unknown as DurableObjectStub<TaskLedger>;
    await runInDurableObject(stub, (_instance, state) => state.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await runInDurableObject(stub, async (_instance, state) => ({
      checkpoints: state.storage.sql.exec<{ seq: number }>(`SELECT seq FROM audit_checkpoints`).toArray().map((row) => row.seq),
      next: await state.storage.getAlarm(),
    }));
    expect(after.checkpoints).toEqual([1]);
    // The next expiry plus its purge grace (an hour), not a checkpoint an hour from now.
    expect(after.next).toBe(record.expiresAt + 3_600_000);
  });


  it("after a checkpoint of the whole chain: no checkpoint to schedule, and still the next expiry", async () => {
    const tenant = freshTenant("alarm-after-checkpoint");
    const ledger = ledgerOf(tenant);
    const record = issueRecord(tenant, "j1", { expiresAt: Date.now() + 3 * 3_600_000 });
    await ledger.issue(tenant, record);
    expect(await ledger.checkpoint(tenant)).toMatchObject({ seq: 1 });
    const stub = ledger as unknown as DurableObjectStub<TaskLedger>;
    await runInDurableObject(stub, (_instance, state) => state.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const next = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(next).toBe(record.expiresAt + 3_600_000);
  });
});

describe("repeated refusals arm the alarm that writes their count", () => {
  it("a first refusal is written at once (no alarm needed); its repeat is counted in memory and arms the alarm", async () => {
    const tenant = freshTenant("refusal-alarm");
    const ledger = ledgerOf(tenant);
    const stub = ledger as unknown as DurableObjectStub<TaskLedger>;
    const caller = { tenant, clientId: "c1", subject: "mallory" };
    await ledger.recordRefusal(tenant, caller, "handle_invalid", { n: 1 });
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBeNull();
    await ledger.recordRefusal(tenant, caller, "handle_invalid", { n: 2 });
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toEqual(expect.any(Number));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const denied = (await ledger.auditEvents(tenant)).events.filter((e) => e.reason === "handle_invalid");
    expect(denied.reduce((sum, e) => sum + e.count, 0)).toBe(2);
  });
});
