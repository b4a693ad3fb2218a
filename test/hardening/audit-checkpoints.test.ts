/**
 * Issue 11, finding 7 (threat model G5): the audit anchor and the chain head are signed, and a
 * chain is verified against its signed checkpoints — in the ledger and offline with the JWKS.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { jwtVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { eventHash, genesisHash, type AuditEvent } from "../../src/ledger/audit-chain.js";
import { verifyAgainstCheckpoints } from "../../src/ledger/audit-checkpoint.js";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";
import { adminFetch, ownedTask, tag, worker } from "../adversarial/support.js";

const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;
const ledgerOf = (tenant: string) => namespace.get(ledgerIdFor(namespace, tenant));

async function jwks(): Promise<JSONWebKeySet> {
  return (await (await worker().fetch("https://taskward.test/.well-known/jwks.json")).json()) as JSONWebKeySet;
}

async function exportOf(tenant: string): Promise<{ events: AuditEvent[]; anchor: { seq: number; prevHash: string } | null; anchorCheckpoint: string | null }> {
  const response = await adminFetch(`/tenants/${tenant}/audit?limit=10000`);
  const events = (await response.text()).split("\n").filter(Boolean).map((line) => JSON.parse(line) as AuditEvent);
  const header = response.headers.get("audit-anchor");
  const [seq, prevHash] = header ? header.split(":") : [];
  return { events, anchor: header ? { seq: Number(seq), prevHash: prevHash! } : null, anchorCheckpoint: response.headers.get("audit-anchor-checkpoint") };
}

async function checkpointOf(tenant: string): Promise<{ seq: number; hash: string; checkpoint: string }> {
  const response = await adminFetch(`/tenants/${tenant}/audit/checkpoint`);
  expect(response.status).toBe(200);
  return (await response.json()) as { seq: number; hash: string; checkpoint: string };
}

/** A tenant with a few events: a task, polls, a revocation. */
async function tenantWithHistory(): Promise<string> {
  const task = await ownedTask(tag("t-cp"));
  await task.session.request("tasks/get", { taskId: task.handle });
  await task.session.request("tasks/get", { taskId: "garbage" });
  await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: task.handle, reason: "test" }) });
  return task.identity.tenant;
}

async function verifyInLedger(tenant: string): Promise<Record<string, any>> {
  return (await (await adminFetch(`/tenants/${tenant}/audit/verify`)).json()) as Record<string, any>;
}

describe("signed audit checkpoints", () => {
  it("GET /admin/tenants/:tenant/audit/checkpoint signs the chain head with a key published at /.well-known/jwks.json", async () => {
    const tenant = await tenantWithHistory();
    const { seq, hash, checkpoint } = await checkpointOf(tenant);
    const { events } = await exportOf(tenant);
    expect(events.find((e) => e.seq === seq)?.hash).toBe(hash);
    expect(decodeProtectedHeader(checkpoint).typ).toBe("taskward-audit-checkpoint+jwt");
    const { payload } = await jwtVerify(checkpoint, createLocalJWKSet(await jwks()), { issuer: "https://taskward.test" });
    expect(payload).toMatchObject({ tenant, seq, hash, sub: `audit:${tenant}` });
    expect(await verifyInLedger(tenant)).toMatchObject({ valid: true, checkpoints: 1 });
  });

  it("deleting a prefix of events and writing a matching anchor is detected", async () => {
    const tenant = await tenantWithHistory();
    await runInDurableObject(ledgerOf(tenant), (_instance, state) => {
      const sql = state.storage.sql;
      const next = sql.exec<{ prev_hash: string }>(`SELECT prev_hash FROM audit WHERE seq = 3`).one();
      sql.exec(`DELETE FROM audit WHERE seq <= 2`);
      sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_anchor', ?)`, JSON.stringify({ seq: 2, prevHash: next.prev_hash }));
    });
    // The first event after the forged anchor is where the chain stops being provable.
    expect(await verifyInLedger(tenant)).toMatchObject({ valid: false, brokenAt: 3, problem: "the anchor is not signed by any checkpoint (a prefix may have been removed)" });
  });

  it("retention prunes behind a signed anchor: the rest verifies, in the ledger and offline", async () => {
    const tenant = await tenantWithHistory();
    await new Promise((r) => setTimeout(r, 5));
    // One more event after the cut, so everything before it is older than the retention point.
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, scope: "tenant", reason: "after-cut" }) });
    await runInDurableObject(ledgerOf(tenant), (instance) => (instance as unknown as { pruneAudit(before: number): Promise<void> }).pruneAudit(before));
    const exported = await exportOf(tenant);
    expect(exported.anchor).not.toBeNull();
    expect(exported.anchorCheckpoint).toEqual(expect.any(String));
    expect(await verifyInLedger(tenant)).toMatchObject({ valid: true, checkpoints: 1 });
    expect(await verifyAgainstCheckpoints(tenant, exported.events, exported.anchor, [exported.anchorCheckpoint!], await jwks())).toMatchObject({ valid: true });
    // Offline, an anchor without its checkpoint is refused.
    expect(await verifyAgainstCheckpoints(tenant, exported.events, exported.anchor, [], await jwks())).toMatchObject({ valid: false });
  });

  it("rewriting the whole chain (and deleting stored checkpoints) is detected against a checkpoint taken before", async () => {
    const tenant = await tenantWithHistory();
    const earlier = await checkpointOf(tenant);
    await runInDurableObject(ledgerOf(tenant), (_instance, state) => {
      const sql = state.storage.sql;
      const rows = sql.exec<AuditEvent & Record<string, SqlStorageValue>>(`SELECT * FROM audit ORDER BY seq`).toArray();
      let prev = genesisHash(tenant);
      for (const row of rows) {
        const { hash: _old, ...rest } = { ...row, reason: row.type === "denied" ? "innocent" : row.reason, prev_hash: prev };
        prev = eventHash(rest);
        sql.exec(`UPDATE audit SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?`, rest.reason, rest.prev_hash, prev, row.seq);
      }
      sql.exec(`DELETE FROM audit_checkpoints`);
    });
    // The insider's rewrite is self-consistent inside the store…
    expect(await verifyInLedger(tenant)).toMatchObject({ valid: true, checkpoints: 0 });
    // …but not against the checkpoint the auditor kept.
    const exported = await exportOf(tenant);
    expect(await verifyAgainstCheckpoints(tenant, exported.events, exported.anchor, [earlier.checkpoint], await jwks())).toMatchObject({
      valid: false,
      brokenAt: earlier.seq,
      problem: `the chain differs from the checkpoint signed at seq ${earlier.seq} (rewritten)`,
    });
  });

  it("a checkpoint signed with a key not in the JWKS is refused", async () => {
    const tenant = await tenantWithHistory();
    const { checkpoint } = await checkpointOf(tenant);
    const { events } = await exportOf(tenant);
    const forged = checkpoint.slice(0, -6) + (checkpoint.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
    const result = await verifyAgainstCheckpoints(tenant, events, null, [forged], await jwks());
    expect(result.valid).toBe(false);
    expect(result.problem).toMatch(/^a checkpoint does not verify/);
  });
});
