/**
 * The audit chain beyond its first link, who a folded poll span is credited to, and pruning with
 * its anchor. The pure module (src/ledger/audit-chain.ts) is what the offline verifier runs; the
 * ledger's RPC methods are what the admin export reads.
 */
import { describe, expect, it } from "vitest";
import { eventHash, genesisHash, verifyChain, type AuditEvent } from "../../src/ledger/audit-chain.js";
import { AuditLog } from "../../src/ledger/audit-log.js";
import { parseTaskPolicy, rulesInForce } from "../../src/policy/task-policy.js";
import { freshTenant, issueRecord, ledgerOf, withHeldClock } from "./ledger-support.js";

/** A valid chain of `n` events for `tenant`, starting after `startSeq` from `startPrev`. */
function chain(tenant: string, n: number, startSeq = 0, startPrev = genesisHash(tenant)): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = startPrev;
  for (let i = 1; i <= n; i++) {
    const body = { seq: startSeq + i, at: 1000 + i, last_at: 1000 + i, count: 1, type: "allowed" as const, jti: `j${i}`, op: "get", client_id: "c", subject: "s", reason: null, detail: null, prev_hash: prev };
    const hash = eventHash(body);
    events.push({ ...body, hash });
    prev = hash;
  }
  return events;
}

/** Re-hashes events[from..] so only the link being tested is wrong, not the events' own hashes. */
function rehashFrom(events: AuditEvent[], from: number): void {
  for (let k = from; k < events.length; k++) {
    if (k > from) events[k]!.prev_hash = events[k - 1]!.hash;
    const { hash: _old, ...rest } = events[k]!;
    events[k]!.hash = eventHash(rest);
  }
}

describe("verifyChain links every event, not just the first", () => {
  it("accepts an intact chain of five", () => {
    expect(verifyChain("t", chain("t", 5))).toEqual({ valid: true, events: 5 });
  });

  for (const position of [2, 3, 5]) {
    it(`a wrong prev_hash at event ${position} (its own hash recomputed) breaks the chain there`, () => {
      const events = chain("t", 5);
      events[position - 1]!.prev_hash = "0".repeat(64);
      rehashFrom(events, position - 1);
      expect(verifyChain("t", events)).toEqual({ valid: false, events: position, brokenAt: position, problem: "prev_hash does not link" });
    });

    it(`a sequence gap before event ${position} is found there`, () => {
      const events = chain("t", 5);
      for (let k = position - 1; k < 5; k++) events[k]!.seq += 1;
      rehashFrom(events, position - 1);
      expect(verifyChain("t", events)).toEqual({ valid: false, events: position, brokenAt: position + 1, problem: `sequence gap after ${position - 1}` });
    });
  }

  it("binds the chain to its tenant: another tenant's genesis does not verify", () => {
    expect(verifyChain("other", chain("t", 2))).toEqual({ valid: false, events: 1, brokenAt: 1, problem: "prev_hash does not link" });
  });

  it("a retained tail verifies from its anchor, and only from it", () => {
    const full = chain("t", 6);
    const tail = full.slice(3);
    expect(verifyChain("t", tail, full[2]!.hash, 3)).toEqual({ valid: true, events: 3 });
    expect(verifyChain("t", tail, full[1]!.hash, 3)).toMatchObject({ valid: false, brokenAt: 4, problem: "prev_hash does not link" });
    expect(verifyChain("t", tail, full[2]!.hash, 2)).toMatchObject({ valid: false, brokenAt: 4, problem: "sequence gap after 2" });
    expect(verifyChain("t", tail)).toMatchObject({ valid: false, brokenAt: 4 });
  });

  it("every field is hashed: changing any one breaks the event's hash", () => {
    const fields: Array<[keyof AuditEvent, unknown]> = [
      ["at", 1], ["last_at", 1], ["count", 2], ["type", "denied"], ["jti", "x"], ["op", "cancel"], ["client_id", "x"], ["subject", "x"], ["reason", "x"], ["detail", "{}"],
    ];
    for (const [field, value] of fields) {
      const events = chain("t", 3);
      (events[1] as unknown as Record<string, unknown>)[field] = value;
      expect(verifyChain("t", events), field).toEqual({ valid: false, events: 2, brokenAt: 2, problem: "hash does not match contents" });
    }
  });
});

describe("folded polls are credited to the principal who polled", () => {
  async function foldedLedger(bind: Array<"tenant" | "client" | "subject">) {
    const tenant = freshTenant("fold");
    const ledger = ledgerOf(tenant);
    await ledger.issue(tenant, issueRecord(tenant, "j1", { bind }));
    return { tenant, ledger };
  }
  /** The policy in force binding only `bind` (the ledger narrows a handle's grant with it, never widens it). */
  function bindingOnly(bind: Array<"tenant" | "client" | "subject">) {
    const parsed = parseTaskPolicy(JSON.stringify({ default: { bind } }));
    if (!("policy" in parsed)) throw new Error("bad test policy");
    return { rules: rulesInForce(parsed.policy, "pinned-policy", 86_400, "slow_echo") };
  }

  it("polls by two subjects are two events, each with its own subject and count", async () => {
    const { tenant, ledger } = await foldedLedger(["tenant", "client"]);
    const alice = { tenant, clientId: "c1", subject: "alice" };
    const bob = { tenant, clientId: "c1", subject: "bob" };
    for (const who of [alice, alice, bob, bob, bob, alice]) expect(await ledger.authorize(tenant, "j1", "get", who, undefined, bindingOnly(["tenant", "client"]))).toMatchObject({ allowed: true });
    const allowed = (await ledger.auditEvents(tenant)).events.filter((e) => e.type === "allowed");
    expect(allowed.map((e) => [e.client_id, e.subject, e.op, e.count])).toEqual([
      ["c1", "alice", "get", 2],
      ["c1", "bob", "get", 3],
      ["c1", "alice", "get", 1],
    ]);
    expect(await ledger.verifyAudit(tenant)).toMatchObject({ valid: true, events: 4, anchor: null });
  });

  it("polls by two clients of one subject are two events", async () => {
    const { tenant, ledger } = await foldedLedger(["tenant", "subject"]);
    for (const clientId of ["c1", "c1", "c2"]) expect(await ledger.authorize(tenant, "j1", "get", { tenant, clientId, subject: "alice" }, undefined, bindingOnly(["tenant", "subject"]))).toMatchObject({ allowed: true });
    const allowed = (await ledger.auditEvents(tenant)).events.filter((e) => e.type === "allowed");
    expect(allowed.map((e) => [e.client_id, e.subject, e.count])).toEqual([
      ["c1", "alice", 2],
      ["c2", "alice", 1],
    ]);
  });

  it("polls of two handles are two events; repeated results and cancels are counted and added to their first event at the next change", async () => {
    const { tenant, ledger } = await foldedLedger(["tenant", "client", "subject"]);
    await ledger.issue(tenant, issueRecord(tenant, "j2"));
    const alice = { tenant, clientId: "c1", subject: "alice" };
    for (const [jti, op] of [["j1", "get"], ["j2", "get"], ["j2", "get"], ["j2", "result"], ["j2", "result"], ["j2", "cancel"], ["j2", "cancel"]] as const) {
      await ledger.authorize(tenant, jti, op, alice);
    }
    const allowed = (await ledger.auditEvents(tenant)).events.filter((e) => e.type === "allowed");
    // Each repeat is counted in memory and written before the next decision's first event, onto its own first event (still the head).
    expect(allowed.map((e) => [e.jti, e.op, e.count])).toEqual([
      ["j1", "get", 1],
      ["j2", "get", 2],
      ["j2", "result", 2],
      ["j2", "cancel", 2],
    ]);
    expect((await ledger.verifyAudit(tenant)).valid).toBe(true);
  });

  it("an allowed span still at the head keeps folding past its 60 s window; past it behind another event, a poll is a new event", async () => {
    const tenant = freshTenant("fold-window");
    const ledger = ledgerOf(tenant);
    const start = Date.now();
    await ledger.issue(tenant, issueRecord(tenant, "j1", { expiresAt: start + 3_600_000 }));
    const alice = { tenant, clientId: "c1", subject: "alice" };
    await withHeldClock(ledger, (instance, setNow) => {
      for (const [at, who] of [[0, alice], [61_000, alice], [62_000, { ...alice, subject: "mallory" }], [123_000, alice]] as const) {
        setNow(start + at);
        instance.authorize(tenant, "j1", "get", who);
      }
    });
    const types = (await ledger.auditEvents(tenant)).events.map((e) => `${e.type}:${e.subject}:${e.count}`);
    expect(types).toEqual(["issued:alice:1", "allowed:alice:2", "denied:mallory:1", "allowed:alice:1"]);
    // A checkpoint seals the head: past the window, the next poll is a new event, not a count on the sealed one.
    expect(await ledger.checkpoint(tenant)).not.toBeNull();
    const rowsWritten = await withHeldClock(ledger, (instance, setNow, state) => {
      const rows = () => state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM audit`).one().n;
      const before = rows();
      setNow(start + 190_000);
      instance.authorize(tenant, "j1", "get", alice);
      return rows() - before;
    });
    // Written before the answer, as a first decision is (a count would wait for the next write).
    expect(rowsWritten).toBe(1);
    const after = (await ledger.auditEvents(tenant)).events.map((e) => `${e.type}:${e.subject}:${e.count}`);
    expect(after).toEqual([...types, "allowed:alice:1"]);
  });

  it("a poll after a denial starts a new event (only the head folds)", async () => {
    const { tenant, ledger } = await foldedLedger(["tenant", "client", "subject"]);
    const alice = { tenant, clientId: "c1", subject: "alice" };
    await ledger.authorize(tenant, "j1", "get", alice);
    await ledger.authorize(tenant, "j1", "get", { ...alice, subject: "mallory" });
    await ledger.authorize(tenant, "j1", "get", alice);
    const types = (await ledger.auditEvents(tenant)).events.map((e) => `${e.type}:${e.subject}:${e.count}`);
    expect(types).toEqual(["issued:alice:1", "allowed:alice:1", "denied:mallory:1", "allowed:alice:1"]);
  });
});

// Pruning and its anchor are pinned with signed checkpoints in test/hardening/audit-checkpoints.test.ts
 
