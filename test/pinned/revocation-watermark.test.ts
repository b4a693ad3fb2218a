/**
 * The revocation watermark boundary: a scope revocation voids every handle issued strictly
 * before its `issuedBefore`, which is one millisecond after the revocation, so a handle minted
 * in the very millisecond of the revocation is void and one minted at `issuedBefore` lives.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { freshTenant, issueRecord, ledgerOf } from "./ledger-support.js";

const who = (tenant: string, clientId = "c1", subject = "alice") => ({ tenant, clientId, subject });

describe("revocation watermark boundary (TaskLedger.revokeScope / authorize)", () => {
  it("issuedBefore is the revocation's millisecond + 1 (docs/ledger-schema.md: revocations), and is audited", async () => {
    const tenant = freshTenant("wm-value");
    const ledger = ledgerOf(tenant);
    const { issuedBefore } = await ledger.revokeScope(tenant, { scope: "subject", value: "alice" }, "test", "admin");
    const rows = await runInDurableObject(ledger, (_instance, state) => state.storage.sql.exec(`SELECT issued_before, revoked_at FROM revocations`).toArray());
    expect(rows).toEqual([{ issued_before: issuedBefore, revoked_at: issuedBefore - 1 }]);
    const revoked = (await ledger.auditEvents(tenant)).events.filter((e) => e.type === "revoked");
    expect(revoked).toHaveLength(1);
    expect(JSON.parse(revoked[0]!.detail!)).toEqual({ actor: "admin", scope: "subject", value: "alice", issuedBefore });
  });

  for (const scope of [
    { scope: "tenant" as const, value: "" },
    { scope: "client" as const, value: "c1" },
    { scope: "subject" as const, value: "alice" },
  ]) {
    it(`${scope.scope} scope: issued at issuedBefore - 1 is void, at issuedBefore it lives`, async () => {
      const tenant = freshTenant(`wm-${scope.scope}`);
      const ledger = ledgerOf(tenant);
      const { issuedBefore } = await ledger.revokeScope(tenant, scope, "test", "admin");
      await ledger.issue(tenant, issueRecord(tenant, "at-mark", { issuedAt: issuedBefore }));
      await ledger.issue(tenant, issueRecord(tenant, "just-before", { issuedAt: issuedBefore - 1 }));
      expect(await ledger.authorize(tenant, "just-before", "get", who(tenant))).toEqual({ allowed: false, reason: "revoked_by_watermark" });
      expect(await ledger.authorize(tenant, "at-mark", "get", who(tenant))).toEqual({ allowed: true, taskId: "origin-at-mark", originHandle: "origin-handle-at-mark", status: "working", tool: "slow_echo", resultAllowed: true });
      expect(await ledger.isActive(tenant, "just-before")).toBe(false);
      expect(await ledger.isActive(tenant, "at-mark")).toBe(true);
    });
  }

  it("a client or subject watermark voids only its own client or subject", async () => {
    const tenant = freshTenant("wm-other");
    const ledger = ledgerOf(tenant);
    const past = Date.now() - 1000;
    await ledger.issue(tenant, issueRecord(tenant, "c2-alice", { issuedAt: past, principal: who(tenant, "c2", "alice") }));
    await ledger.issue(tenant, issueRecord(tenant, "c1-bob", { issuedAt: past, principal: who(tenant, "c1", "bob") }));
    await ledger.issue(tenant, issueRecord(tenant, "c1-alice", { issuedAt: past }));
    await ledger.revokeScope(tenant, { scope: "client", value: "c1" }, "test", "admin");
    expect(await ledger.authorize(tenant, "c2-alice", "get", who(tenant, "c2", "alice"))).toMatchObject({ allowed: true });
    expect(await ledger.authorize(tenant, "c1-bob", "get", who(tenant, "c1", "bob"))).toEqual({ allowed: false, reason: "revoked_by_watermark" });
    await ledger.revokeScope(tenant, { scope: "subject", value: "alice" }, "test", "admin");
    expect(await ledger.authorize(tenant, "c2-alice", "get", who(tenant, "c2", "alice"))).toEqual({ allowed: false, reason: "revoked_by_watermark" });
    const reasons = (await ledger.auditEvents(tenant)).events.filter((e) => e.type === "denied").map((e) => e.reason);
    expect(reasons).toEqual(["revoked_by_watermark", "revoked_by_watermark"]);
  });

  it("POST /admin/revocations answers the same issuedBefore the ledger uses", async () => {
    const tenant = freshTenant("wm-admin");
    const { adminFetch } = await import("../support/mcp-client.js");
    const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, sub: "alice" }) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { issuedBefore: number };
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "edge", { issuedAt: body.issuedBefore - 1 }));
    await ledger.issue(tenant, issueRecord(tenant, "after", { issuedAt: body.issuedBefore }));
    expect(await ledger.authorize(tenant, "edge", "get", who(tenant))).toEqual({ allowed: false, reason: "revoked_by_watermark" });
    expect(await ledger.authorize(tenant, "after", "get", who(tenant))).toMatchObject({ allowed: true });
  });
});
