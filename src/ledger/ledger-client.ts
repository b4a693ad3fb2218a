import { configFor, type WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import { shardObjectName, shardOfHandle } from "./shards.js";
import type { TaskLedger } from "./task-ledger.js";

/**
 * The stub of one shard of `tenant`'s ledger (shard 0: the tenant's original object). Every call
 * that fails (object unreachable, overloaded, throwing) rejects with a `ledger_unavailable`
 * Refusal, so each surface answers 503 and nothing proceeds as if the ledger had agreed: fail closed.
 * `locationHint` only matters if this call creates the object. The Worker obtains stubs with
 * `shardLedger`, which applies LEDGER_SHARD_LOCATIONS; this is the raw stub under it.
 */
export function ledgerFor(namespace: DurableObjectNamespace<TaskLedger>, tenant: string, shard = 0, locationHint?: DurableObjectLocationHint): DurableObjectStub<TaskLedger> {
  const stub = namespace.get(ledgerIdFor(namespace, tenant, shard), locationHint === undefined ? undefined : { locationHint });
  return new Proxy(stub, {
    get(target, property) {
      if (typeof property !== "string" || property === "then") return (target as unknown as Record<string | symbol, unknown>)[property];
      return (...args: unknown[]) =>
        Promise.resolve()
          .then(() => (target as unknown as Record<string, (...a: unknown[]) => unknown>)[property]!(...args))
          .catch((error: unknown) => {
            if (error instanceof Refusal) throw error;
            throw new Refusal("ledger_unavailable", `${property} (shard ${shard}): ${(error as Error)?.message ?? String(error)}`);
          });
    },
  });
}

/** The Durable Object id of one shard of `tenant`'s ledger. */
export function ledgerIdFor(namespace: DurableObjectNamespace<TaskLedger>, tenant: string, shard = 0): DurableObjectId {
  return namespace.idFromName(shardObjectName(tenant, shard));
}

/**
 * The stub of `tenant`'s shard `shard`, with the location its configuration places it in, else
 * `callerHint` (the creating request's region): the hint a new shard object is created with.
 */
export function shardLedger(env: WorkerEnv, tenant: string, shard: number, callerHint?: DurableObjectLocationHint): DurableObjectStub<TaskLedger> {
  return ledgerFor(env.TASK_LEDGER, tenant, shard, configFor(env).ledgerShards.locations[shard] ?? callerHint);
}

/** The stub of the shard a handle names, or undefined when its tenant no longer has that shard (the handle opens nothing). */
export function handleLedger(env: WorkerEnv, claims: { tenant: string; shd?: number | undefined }): DurableObjectStub<TaskLedger> | undefined {
  const shard = shardOfHandle(configFor(env).ledgerShards, claims);
  return shard === undefined ? undefined : shardLedger(env, claims.tenant, shard);
}
