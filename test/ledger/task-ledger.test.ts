import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";
import { issueRecord } from "../pinned/ledger-support.js";
import type { WorkerEnv } from "../../src/config.js";

const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;
const owner = { clientId: "c1", subject: "alice" };

/** An issue record for the ledger under test (the shared one of the pinned ledger tests). */
const record = issueRecord;

/** Audit events only (the export also carries the chain anchor). */
async function eventsOf(ledger: ReturnType<typeof rawLedger>, tenant: string, after = 0, limit = 1000) {
  return (await ledger.auditEvents(tenant, after, limit)).events;
}

/** The Durable Object stub itself (tests drive the object directly, alarms and storage included). */
function rawLedger(tenant: string) {
  return namespace.get(ledgerIdFor(namespace, tenant));
}

async function freshLedger(tenant: string) {
  const ledger = rawLedger(tenant);
  return { ledger, who: { tenant, ...owner } };
}

describe("TaskLedger.authorize", () => {
  it("allows the owner and records issued + allowed events in a verifying chain", async () => {
    const tenant = "t-allow";
    const { ledger, who } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "j1"));
    expect(await ledger.authorize(tenant, "j1", "get", who)).toEqual({ allowed: true, taskId: "origin-j1", originHandle: "origin-handle-j1", status: "working", tool: "slow_echo", resultAllowed: true });
    const events = await eventsOf(ledger, tenant);
    expect(events.map((e) => e.type)).toEqual(["issued", "allowed"]);
    expect(events[1]!.prev_hash).toBe(events[0]!.hash);
    expect(await ledger.verifyAudit(tenant)).toEqual({ valid: true, events: 2, checkpoints: 0, anchor: null });
  });

  it("denies with the precise reason", async () => {
    const tenant = "t-deny";
    const { ledger, who } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "j1", { ops: ["get"] }));
    await ledger.issue(tenant, record(tenant, "j-old", { expiresAt: Date.now() - 1 }));
    const cases: Array<[Parameters<typeof ledger.authorize>, string]> = [
      [[tenant, "nope", "get", who], "unknown_handle"],
      [[tenant, "j1", "get", { ...who, tenant: "other" }], "tenant_mismatch"],
      [[tenant, "j1", "get", { ...who, clientId: "c2" }], "client_mismatch"],
      [[tenant, "j1", "get", { ...who, subject: "bob" }], "subject_mismatch"],
      [[tenant, "j1", "cancel", who], "operation_not_allowed"],
      [[tenant, "j-old", "get", who], "expired"],
    ];
    for (const [args, reason] of cases) {
      expect(await ledger.authorize(...args)).toEqual({ allowed: false, reason });
    }
    await ledger.revoke(tenant, { jti: "j1" }, "test", "admin");
    expect(await ledger.authorize(tenant, "j1", "get", who)).toEqual({ allowed: false, reason: "revoked" });
    const denied = (await eventsOf(ledger, tenant)).filter((e) => e.type === "denied").map((e) => e.reason);
    expect(denied).toEqual([...cases.map(([, reason]) => reason), "revoked"]);
  });

  it("folds repeated identical polls into one counted event, keeping the chain valid", async () => {
    const tenant = "t-fold";
    const { ledger, who } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "j1"));
    for (let i = 0; i < 100; i++) await ledger.authorize(tenant, "j1", "get", who);
    await ledger.authorize(tenant, "j1", "result", who);
    await ledger.authorize(tenant, "j1", "get", who);
    const events = await eventsOf(ledger, tenant);
    expect(events.map((e) => [e.type, e.op, e.count])).toEqual([
      ["issued", null, 1],
      ["allowed", "get", 100],
      ["allowed", "result", 1],
      ["allowed", "get", 1],
    ]);
    expect(events[1]!.last_at).toBeGreaterThanOrEqual(events[1]!.at);
    expect(await ledger.verifyAudit(tenant)).toMatchObject({ valid: true, events: 4 });
  });

  it("keeps the chain in order under concurrent decisions", async () => {
    const tenant = "t-concurrent";
    const { ledger, who } = await freshLedger(tenant);
    for (let i = 0; i < 10; i++) await ledger.issue(tenant, record(tenant, `j${i}`));
    await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.authorize(tenant, `j${i % 10}`, i % 2 ? "get" : "result", who)));
    const verification = await ledger.verifyAudit(tenant);
    expect(verification.valid).toBe(true);
    const events = await eventsOf(ledger, tenant, 0, 10_000);
    expect(events.reduce((sum, e) => sum + (e.type === "allowed" ? e.count : 0), 0)).toBe(200);
  });

  it("refuses to serve another tenant from a tenant's object", async () => {
    const tenant = "t-bound";
    const { ledger, who } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "j1"));
    expect(await ledger.authorize("someone-else", "j1", "get", who)).toEqual({ allowed: false, reason: "wrong_ledger" });
    expect((await eventsOf(ledger, tenant)).map((e) => e.type)).toEqual(["issued"]);
  });
});

describe("the audit chain detects tampering", () => {
  async function tamperedLedger(tenant: string, tamper: (sql: SqlStorage) => void) {
    const { ledger, who } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "j1"));
    await ledger.authorize(tenant, "j1", "result", who);
    await ledger.authorize(tenant, "j1", "cancel", who);
    await ledger.revoke(tenant, { jti: "j1" }, "done", "admin");
    expect((await ledger.verifyAudit(tenant)).valid).toBe(true);
    await runInDurableObject(ledger, (_instance, state) => tamper(state.storage.sql));
    return ledger.verifyAudit(tenant);
  }

  it("an altered event", async () => {
    const result = await tamperedLedger("t-alter", (sql) => sql.exec(`UPDATE audit SET reason = 'innocent' WHERE seq = 4`));
    expect(result).toMatchObject({ valid: false, brokenAt: 4, problem: "hash does not match contents" });
  });

  it("an altered event whose own hash was recomputed", async () => {
    const result = await tamperedLedger("t-rehash", (sql) => sql.exec(`UPDATE audit SET op = 'get', hash = 'deadbeef' WHERE seq = 2`));
    expect(result).toMatchObject({ valid: false, brokenAt: 2 });
  });

  it("a deleted event", async () => {
    const result = await tamperedLedger("t-delete", (sql) => sql.exec(`DELETE FROM audit WHERE seq = 2`));
    expect(result).toMatchObject({ valid: false, brokenAt: 3, problem: "sequence gap after 1" });
  });

  it("reordered events", async () => {
    const result = await tamperedLedger("t-reorder", (sql) => {
      sql.exec(`UPDATE audit SET seq = 100 WHERE seq = 2`);
      sql.exec(`UPDATE audit SET seq = 2 WHERE seq = 3`);
      sql.exec(`UPDATE audit SET seq = 3 WHERE seq = 100`);
    });
    expect(result.valid).toBe(false);
    expect(result.brokenAt).toBe(2);
  });
});

describe("status, ownership and expiry", () => {
  it("audits the first terminal status once", async () => {
    const tenant = "t-terminal";
    const { ledger } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "j1"));
    await ledger.observeStatus(tenant, "origin-j1", "working");
    await ledger.observeStatus(tenant, "origin-j1", "completed");
    await ledger.observeStatus(tenant, "origin-j1", "completed");
    const events = (await eventsOf(ledger, tenant)).filter((e) => e.type === "terminal");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ jti: "j1", reason: "completed" });
    expect(await ledger.task(tenant, "j1")).toMatchObject({ status: "completed" });
  });

  it("resolves origin ids to handles only for the owner", async () => {
    const tenant = "t-owned";
    const { ledger, who } = await freshLedger(tenant);
    await ledger.issue(tenant, record(tenant, "mine"));
    await ledger.issue(tenant, record(tenant, "theirs", { principal: { tenant, clientId: "c1", subject: "bob" } }));
    const owned = await ledger.ownedHandles(tenant, who, ["origin-mine", "origin-theirs", "origin-unknown"], { audience: "https://origin.test/mcp", isDefault: true });
    expect(owned).toEqual({ "origin-mine": { handle: "handle-mine", ttlMs: 60_000, status: "working" } });
  });

  it("purges expired tasks in the alarm and audits each", async () => {
    const tenant = "t-expiry";
    const { ledger } = await freshLedger(tenant);
    const longAgo = Date.now() - 3 * 3600_000;
    await ledger.issue(tenant, record(tenant, "old", { issuedAt: longAgo, expiresAt: longAgo + 1000 }));
    await ledger.issue(tenant, record(tenant, "live"));
    expect(await runDurableObjectAlarm(ledger)).toBe(true);
    expect(await ledger.task(tenant, "old")).toBeNull();
    expect(await ledger.task(tenant, "live")).not.toBeNull();
    const expired = (await eventsOf(ledger, tenant)).filter((e) => e.type === "expired");
    expect(expired.map((e) => e.jti)).toEqual(["old"]);
    expect((await ledger.verifyAudit(tenant)).valid).toBe(true);
  });
});
