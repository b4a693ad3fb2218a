import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import type { AuditEvent } from "../../src/ledger/audit-chain.js";
import { ledgerFor, ledgerIdFor } from "../../src/ledger/ledger-client.js";
import type { TaskLedger } from "../../src/ledger/task-ledger.js";
import { AuditShipper, type AuditShipment } from "../../src/siem/audit-shipper.js";
import { McpSession, adminFetch, decodeClaims, shardOf } from "../support/mcp-client.js";

const workerEnv = env as unknown as WorkerEnv;
type Archived = { uid: string; hash: string; count: number };

async function chainOf(tenant: string): Promise<AuditEvent[]> {
  return (await ledgerFor(workerEnv.TASK_LEDGER, tenant).auditEvents(tenant, 0, 10_000)).events;
}

/** Every OCSF event the consumer wrote to R2 for `tenant`. */
async function archivedOf(tenant: string): Promise<Archived[]> {
  const archived: Archived[] = [];
  let cursor: string | undefined;
  do {
    const page = await workerEnv.AUDIT_ARCHIVE!.list({ prefix: `ocsf/${tenant}/`, cursor });
    for (const object of page.objects) {
      const text = await (await workerEnv.AUDIT_ARCHIVE!.get(object.key))!.text();
      for (const line of text.split("\n").filter(Boolean)) {
        const event = JSON.parse(line) as { metadata: { uid: string }; unmapped: { hash: string }; count?: number };
        archived.push({ uid: event.metadata.uid, hash: event.unmapped.hash, count: event.count ?? 1 });
      }
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return archived;
}

/** R2 == chain: each chain event archived with its final hash, nothing archived the chain lacks. */
function sameAsChain(tenant: string, chain: AuditEvent[], archived: Archived[]): boolean {
  const byUid = new Map(chain.map((event) => [`${tenant}:${event.seq}`, event]));
  const finalArchived = chain.every((event) => archived.some((a) => a.uid === `${tenant}:${event.seq}` && a.hash === event.hash));
  // A folded head shipped before its last fold leaves an older copy: same seq, smaller count.
  const nothingElse = archived.every((a) => {
    const event = byUid.get(a.uid);
    return event !== undefined && (a.hash === event.hash || a.count < event.count);
  });
  return finalArchived && nothingElse;
}

async function untilArchived(tenant: string, timeoutMs = 20_000): Promise<{ chain: AuditEvent[]; archived: Archived[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const chain = await chainOf(tenant);
    const archived = await archivedOf(tenant);
    if (sameAsChain(tenant, chain, archived) || Date.now() > deadline) return { chain, archived };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// Pushes are coalesced for a second and the consumer batches for a second: allow for both, and the 20 s wait.
describe("SIEM push: audit chain → Queue → R2 (miniflare's real Queue and R2)", { timeout: 45_000 }, () => {
  it("every chain event reaches R2 as OCSF, folded polls with their final count", async () => {
    const tenant = "siem-queue";
    const session = await McpSession.open({ tenant, client_id: "cli", sub: "alice" });
    const handles: string[] = [];
    for (let i = 0; i < 5; i++) handles.push((await session.createTask("slow_echo", { text: `t${i}`, delayMs: 10 })).handle);
    for (const handle of handles) await session.waitForStatus(handle, ["completed"]);
    for (let i = 0; i < 4; i++) await session.request("tasks/get", { taskId: handles[0]! });
    const intruder = await McpSession.open({ tenant, client_id: "cli", sub: "mallory" });
    await intruder.request("tasks/get", { taskId: handles[1]! });
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti: decodeClaims(handles[2]!).jti }) })).status).toBe(200);

    const { chain, archived } = await untilArchived(tenant);
    expect(chain.length).toBeGreaterThan(15);
    expect(chain.some((event) => event.count > 1)).toBe(true);
    expect(sameAsChain(tenant, chain, archived)).toBe(true);
    expect(new Set(archived.map((a) => a.uid))).toEqual(new Set(chain.map((event) => `${tenant}:${event.seq}`)));
  });

  it("a tenant with 4 ledger shards: every shard's events reach R2, each under an id no other shard's event has", async () => {
    const tenant = "siem-shards";
    const session = await McpSession.open({ tenant, client_id: "cli", sub: "alice" });
    const handles: string[] = [];
    for (let i = 0; i < 8; i++) handles.push((await session.createTask("slow_echo", { text: `s${i}`, delayMs: 10 })).handle);
    for (const handle of handles) await session.request("tasks/get", { taskId: handle });
    const shards = [0, 1, 2, 3];
    expect(new Set(handles.map(shardOf))).toEqual(new Set(shards));
    const uidOf = (shard: number, seq: number) => (shard === 0 ? `${tenant}:${seq}` : `${tenant}#shard:${shard}:${seq}`);
    const chains = async () => Promise.all(shards.map(async (shard) => (await ledgerFor(workerEnv.TASK_LEDGER, tenant, shard).auditEvents(tenant, 0, 10_000)).events));
    const deadline = Date.now() + 20_000;
    let expected = new Set<string>();
    let archived: Archived[] = [];
    for (;;) {
      expected = new Set((await chains()).flatMap((chain, shard) => chain.map((event) => uidOf(shard, event.seq))));
      archived = await archivedOf(tenant);
      if ([...expected].every((uid) => archived.some((a) => a.uid === uid)) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // Each shard has its own chain (seq 1, 2, … in every shard): their events must not share an id, or a SIEM deduplicating on it drops them.
    expect(expected.size).toBe((await chains()).reduce((n, chain) => n + chain.length, 0));
    expect(new Set(archived.map((a) => a.uid))).toEqual(expected);
  });

  it("a queue that refuses loses nothing: the chain commits, the position stays, and the next push sends it all", async () => {
    const tenant = "siem-queue-fault";
    const session = await McpSession.open({ tenant, client_id: "cli", sub: "alice" });
    await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    await untilArchived(tenant);
    const stub = workerEnv.TASK_LEDGER.get(ledgerIdFor(workerEnv.TASK_LEDGER, tenant));
    // A queue outage cannot be caused in miniflare, so the fault is a queue whose sendBatch throws.
    const refusing = { sendBatch: async () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue<AuditShipment>;
    const position = (sql: SqlStorage) => sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'siem_shipped'`).toArray()[0]?.value;
    await runInDurableObject(stub, async (_ledger: TaskLedger, state) => {
      const sql = state.storage.sql;
      // As if the object had been evicted between a commit and its push: nothing counts as shipped.
      sql.exec(`DELETE FROM meta WHERE key = 'siem_shipped'`);
      await expect(new AuditShipper(sql, refusing, () => tenant).ship()).rejects.toThrow("queue unavailable");
      expect(position(sql)).toBeUndefined();
      await new AuditShipper(sql, workerEnv.AUDIT_QUEUE!, () => tenant).ship();
      const head = sql.exec<{ seq: number; hash: string }>(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).one();
      expect(JSON.parse(position(sql)!)).toEqual({ seq: head.seq, hash: head.hash });
    });
    const chain = await chainOf(tenant);
    const deadline = Date.now() + 20_000;
    let archived = await archivedOf(tenant);
    // Re-sent from the chain: the first event is in R2 twice now (at least once, never lost).
    while (archived.filter((a) => a.uid === `${tenant}:1`).length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      archived = await archivedOf(tenant);
    }
    expect(archived.filter((a) => a.uid === `${tenant}:1`)).toHaveLength(2);
    expect(sameAsChain(tenant, chain, archived)).toBe(true);
  });
});
