/**
 * Ledger decisions pinned through its RPC methods: the tenant an object serves, revocation after
 * delivery when the next call comes before the alarm, the delegation depth limit, and the chain's
 * genesis as the offline verifier computes it.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { genesisHash, verifyChain } from "../../src/ledger/audit-chain.js";
import { parseTaskPolicy, rulesInForce } from "../../src/policy/task-policy.js";
import { freshTenant, issueRecord, ledgerOf, withHeldClock } from "./ledger-support.js";

const alice = (tenant: string) => ({ tenant, clientId: "c1", subject: "alice" });

describe("the tenant a ledger object serves", () => {
  it("answers 'not active' and decides nothing for another tenant", async () => {
    const tenant = freshTenant("serves");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "j1"));
    expect(await ledger.isActive(tenant, "j1")).toBe(true);
    expect(await ledger.isActive(`${tenant}-other`, "j1")).toBe(false);
    expect(await ledger.authorize(`${tenant}-other`, "j1", "get", alice(`${tenant}-other`))).toEqual({ allowed: false, reason: "wrong_ledger" });
    expect((await ledger.auditEvents(tenant)).events.map((e) => e.type)).toEqual(["issued"]);
  });

  it("the exported chain starts at this tenant's genesis and verifies offline", async () => {
    const tenant = freshTenant("genesis");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "j1"));
    await ledger.authorize(tenant, "j1", "result", alice(tenant));
    const { events, anchor } = await ledger.auditEvents(tenant);
    expect(anchor).toBeNull();
    expect(events[0]!.prev_hash).toBe(genesisHash(tenant));
    expect(verifyChain(tenant, events)).toEqual({ valid: true, events: 2 });
  });
});

describe("revocation after delivery", () => {
  it("the first call after the grace is refused and revokes the handle itself, before any alarm", async () => {
    const tenant = freshTenant("lazy");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "j1"));
    await ledger.observeDelivery(tenant, "j1");
    // Only the lazy path may revoke here.
    await runInDurableObject(ledger, (_instance, state) => state.storage.deleteAlarm());
    const { deliveredAt } = (await ledger.task(tenant, "j1"))!;
    expect(deliveredAt).toBeTypeOf("number");
    expect(await ledger.authorize(tenant, "j1", "get", alice(tenant))).toMatchObject({ allowed: true });
    await new Promise((r) => setTimeout(r, Math.max(0, deliveredAt! + 2_050 - Date.now())));
    expect(await ledger.authorize(tenant, "j1", "get", alice(tenant))).toEqual({ allowed: false, reason: "revoked_after_delivery" });
    expect(await ledger.task(tenant, "j1")).toMatchObject({ revokeReason: "delivered" });
    const tail = (await ledger.auditEvents(tenant)).events.slice(-2).map((e) => `${e.type}:${e.reason}`);
    expect(tail).toEqual(["denied:revoked_after_delivery", "revoked:delivered"]);
  });
});

describe("delegation depth", () => {
  it("a chain of eight delegations is followed to its root; a ninth is refused", async () => {
    const tenant = freshTenant("depth");
    const ledger = ledgerOf(tenant);
    const root = issueRecord(tenant, "d0");
    await ledger.issue(tenant, root);
    for (let depth = 1; depth <= 8; depth++) {
      const child = { ...issueRecord(tenant, `d${depth}`, { taskId: root.taskId, expiresAt: root.expiresAt, ops: ["get"] }), parent: `d${depth - 1}` };
      expect(await ledger.delegate(tenant, child), `depth ${depth}`).toEqual({ issued: true });
    }
    expect(await ledger.authorize(tenant, "d8", "get", alice(tenant))).toMatchObject({ allowed: true });
    const ninth = { ...issueRecord(tenant, "d9", { taskId: root.taskId, expiresAt: root.expiresAt, ops: ["get"] }), parent: "d8" };
    expect(await ledger.delegate(tenant, ninth)).toEqual({ issued: false, reason: "the parent handle, or one it was delegated from, is revoked or expired" });
    // Revoking the root voids the deepest descendant.
    await ledger.revoke(tenant, { jti: "d0" }, "test", "admin");
    expect(await ledger.authorize(tenant, "d8", "get", alice(tenant))).toEqual({ allowed: false, reason: "parent_revoked" });
  });
});

describe("expiry at its very millisecond (the ledger's clock held by the test)", () => {
  it("a handle is live until the millisecond before expires_at and expired at it", async () => {
    const tenant = freshTenant("expiry-ms");
    const ledger = ledgerOf(tenant);
    const record = issueRecord(tenant, "j1");
    await ledger.issue(tenant, record);
    const decisions = await withHeldClock(ledger, async (instance, setNow) => {
      setNow(record.expiresAt - 1);
      const before = await instance.authorize(tenant, "j1", "get", alice(tenant));
      setNow(record.expiresAt);
      const at = await instance.authorize(tenant, "j1", "get", alice(tenant));
      return { before: before.allowed, at: { allowed: at.allowed, reason: at.allowed ? undefined : at.reason } };
    });
    expect(decisions).toEqual({ before: true, at: { allowed: false, reason: "expired" } });
  });

  it("a policy in force with a shorter TTL cap expires the handle at issued_at + cap, to the millisecond", async () => {
    const tenant = freshTenant("cap-ms");
    const ledger = ledgerOf(tenant);
    const record = issueRecord(tenant, "j1");
    await ledger.issue(tenant, record);
    const parsed = parseTaskPolicy(JSON.stringify({ tools: { slow_echo: { maxTtlSeconds: 30 } } }));
    if (!("policy" in parsed)) throw new Error(parsed.problems.join("; "));
    const extras = { rules: rulesInForce(parsed.policy, "v-cap", 86_400, "slow_echo") };
    const decisions = await withHeldClock(ledger, async (instance, setNow) => {
      setNow(record.issuedAt + 29_999);
      const before = await instance.authorize(tenant, "j1", "get", alice(tenant), undefined, extras);
      setNow(record.issuedAt + 30_000);
      const at = await instance.authorize(tenant, "j1", "get", alice(tenant), undefined, extras);
      return { before: before.allowed, at: at.allowed ? undefined : at.reason };
    });
    expect(decisions).toEqual({ before: true, at: "expired" });
  });
});

describe("the policy in force, passed by the edge", () => {
  it("a tool made forbidden after issuance refuses its handle's follow-ups; another tool's does not", async () => {
    const tenant = freshTenant("forbidden-now");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "j1"));
    const parsed = parseTaskPolicy(JSON.stringify({ tools: { slow_echo: { taskSupport: "forbidden" }, other: { taskSupport: "optional" } } }));
    if (!("policy" in parsed)) throw new Error(parsed.problems.join("; "));
    const inForce = (tool: string) => ({ rules: rulesInForce(parsed.policy, "v-forbid", 86_400, tool) });
    expect(await ledger.authorize(tenant, "j1", "get", alice(tenant), undefined, inForce("other"))).toMatchObject({ allowed: true });
    expect(await ledger.authorize(tenant, "j1", "get", alice(tenant), undefined, inForce("slow_echo"))).toEqual({ allowed: false, reason: "policy_forbids" });
  });
});

describe("the refusal limit's last second (the ledger's clock held by the test)", () => {
  it("a caller over its limit is refused with Retry-After 1 in the window's last second, and decided normally once it is over", async () => {
    const tenant = freshTenant("last-second");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "j1", { expiresAt: Date.now() + 3_600_000 }));
    const outcome = await withHeldClock(ledger, (instance, setNow) => {
      const start = Date.now();
      setNow(start);
      // RATE_LIMIT_REFUSALS_PER_MINUTE is 30 in the test env.
      for (let i = 0; i < 30; i++) instance.recordRefusal(tenant, alice(tenant), "handle_invalid", { i });
      setNow(start + 59_500);
      const lastSecond = instance.authorize(tenant, "j1", "get", alice(tenant));
      const lastSecondRefusal = instance.recordRefusal(tenant, alice(tenant), "handle_invalid", { i: "last" });
      setNow(start + 60_000);
      const after = instance.authorize(tenant, "j1", "get", alice(tenant));
      return { lastSecond, lastSecondRefusal, after: after.allowed ? true : after.reason };
    });
    expect(outcome).toEqual({ lastSecond: { allowed: false, reason: "rate_limited", retryAfterSeconds: 1 }, lastSecondRefusal: { retryAfterSeconds: 1 }, after: true });
    // Both last-second requests are audited as rate limited, not as what they asked.
    const rateLimited = (await ledger.auditEvents(tenant)).events.filter((e) => e.reason === "rate_limited");
    expect(rateLimited.reduce((sum, e) => sum + e.count, 0)).toBe(2);
  });
});
