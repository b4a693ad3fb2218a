/**
 * Ledger operations an operator drives, pinned through the object's RPC methods: which in-flight
 * tasks a revocation scope selects for a supervisory cancel, and the withheld record on a ledger
 * that had recorded nothing before.
 */
import { describe, expect, it } from "vitest";
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
