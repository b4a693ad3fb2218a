import { configFor, type WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import { shardLedger } from "./ledger-client.js";
import { shardsOf } from "./shards.js";
import type { TaskLedger } from "./task-ledger.js";

/** What one shard answered. */
export interface ShardAnswer<T> {
  shard: number;
  value: T;
}

/**
 * Runs `call` on every shard of `tenant`'s ledger at once and returns every answer, or rejects
 * with a 503 `ledger_unavailable` naming how many shards failed: a tenant-wide operation is
 * reported only when every shard did it (the slowest shard sets the latency).
 */
export async function onEveryShard<T>(env: WorkerEnv, tenant: string, call: (ledger: DurableObjectStub<TaskLedger>, shard: number) => Promise<T>): Promise<Array<ShardAnswer<T>>> {
  const shards = shardsOf(configFor(env).ledgerShards, tenant);
  const settled = await Promise.allSettled(shards.map((shard) => Promise.resolve().then(() => call(shardLedger(env, tenant, shard), shard))));
  const failed = shards.filter((_, index) => settled[index]!.status === "rejected");
  if (failed.length > 0) {
    const reasons = settled.flatMap((outcome, index) => (outcome.status === "rejected" ? [`shard ${shards[index]}: ${(outcome.reason as Error)?.message ?? String(outcome.reason)}`] : []));
    const message = `${failed.length} of ${shards.length} ledger shards of tenant ${tenant} could not be reached (shards ${failed.join(", ")}); the operation is not reported done: retry`;
    throw new Refusal("ledger_unavailable", reasons.join("; "), message, { shards: shards.length, shardsFailed: failed.length, failedShards: failed, retryable: true }, { "retry-after": "1" });
  }
  return settled.map((outcome, index) => ({ shard: shards[index]!, value: (outcome as PromiseFulfilledResult<T>).value }));
}
