/**
 * A sharded tenant's handle used behind another origin (ORIGINS and LEDGER_SHARDS_BY_TENANT in
 * vitest.config.ts: "shard-origins" has 4 shards; "beta" is the second origin): refused exactly
 * like an unknown task, never forwarded, and the `origin_mismatch` refusal recorded in the shard
 * its handle's `shd` claim names, nowhere else.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { McpSession, decodeClaims, everyOriginReceived, forwardedFor, readReply, shardOf } from "../support/mcp-client.js";

const TENANT = "shard-origins";
const SHARDS = 4;
const NOT_FOUND = { code: -32602, message: "Task not found" };
const OPS = ["tasks/get", "tasks/result", "tasks/cancel"] as const;
const workerEnv = env as unknown as WorkerEnv;

/** The `origin_mismatch` denials of one caller, per shard (refusals fold into counted spans across handles). */
async function originMismatchByShard(subject: string): Promise<Array<Array<{ count: number; jti: string | null; detail: Record<string, unknown> }>>> {
  const perShard = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const { events } = await ledgerFor(workerEnv.TASK_LEDGER, TENANT, shard).auditEvents(TENANT, 0, 10_000);
    perShard.push(
      events
        .filter((e) => e.type === "denied" && e.reason === "origin_mismatch" && e.subject === subject)
        .map((e) => ({ count: e.count, jti: e.jti, detail: JSON.parse(e.detail ?? "{}") as Record<string, unknown> })),
    );
  }
  return perShard;
}

describe("a sharded tenant's handle behind another origin", () => {
  it("minted behind /mcp/beta and used behind /mcp: refused like an unknown task, never forwarded, audited origin_mismatch in the shard its shd names", async () => {
    const identity = { tenant: TENANT, client_id: "c", sub: `xo-${crypto.randomUUID().slice(0, 8)}` };
    const owner = await McpSession.open(identity, "/mcp/beta");
    // Shards are taken in turn: six creations cover several, at least one of them not shard 0.
    const handles: string[] = [];
    for (let i = 0; i < 6; i++) handles.push((await owner.createTask("long_job", { seconds: 5 })).handle);
    const shards = new Set(handles.map(shardOf));
    expect(shards.size).toBeGreaterThan(1);
    expect([...shards].some((shard) => shard > 0)).toBe(true);

    const intruder = await McpSession.open(identity, "/mcp");
    // What an unknown task looks like behind /mcp, to compare every refusal with.
    const unknownId = `xo-unknown-${crypto.randomUUID()}`;
    const unknown = await readReply(await intruder.post({ jsonrpc: "2.0", id: unknownId, method: "tasks/get", params: { taskId: `never-issued-${crypto.randomUUID()}` } }), unknownId);
    expect({ status: unknown.status, error: unknown.reply?.error }).toEqual({ status: 200, error: NOT_FOUND });

    const ids: string[] = [];
    for (const handle of handles) {
      for (const method of OPS) {
        const id = `xo-${crypto.randomUUID()}`;
        ids.push(id);
        const refused = await readReply(await intruder.post({ jsonrpc: "2.0", id, method, params: { taskId: handle } }), id);
        expect({ status: refused.status, reply: refused.reply }).toEqual({ status: unknown.status, reply: { ...unknown.reply, id } });
      }
    }

    const received = await everyOriginReceived();
    expect(received.filter((m) => ids.includes(m.id as string) || handles.some((handle) => forwardedFor(m, handle)))).toEqual([]);

    // Each shard holds exactly the refusals of its own handles: 3 per handle whose shd names it, none of another shard's.
    const byShard = await originMismatchByShard(identity.sub);
    const handlesIn = (shard: number) => handles.filter((handle) => shardOf(handle) === shard);
    expect(byShard.map((events) => events.reduce((sum, e) => sum + e.count, 0))).toEqual(Array.from({ length: SHARDS }, (_, shard) => OPS.length * handlesIn(shard).length));
    for (let shard = 0; shard < SHARDS; shard++) {
      const jtis = handlesIn(shard).map((handle) => decodeClaims(handle).jti as string);
      for (const event of byShard[shard]!) {
        expect(jtis).toContain(event.jti);
        expect(event.detail).toMatchObject({ minted: "beta", used: "main" });
      }
    }

    // Behind its own origin each handle still opens its task.
    for (const handle of handles) expect((await owner.request("tasks/get", { taskId: handle })).reply?.result?.taskId).toBe(handle);
  });
});
