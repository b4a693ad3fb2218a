import type { WorkerEnv } from "../config.js";
import { configFor } from "../config.js";
import { shardLedger } from "../ledger/ledger-client.js";
import { onEveryShard } from "../ledger/shard-fan-out.js";
import { shardCountFor } from "../ledger/shards.js";
import type { AuditEvent } from "../ledger/audit-chain.js";
import type { CancelSelector, InFlightTask, RevocationScope, RevocationTarget, TaskRecord } from "../ledger/types.js";

/**
 * Operator operations on a sharded tenant ledger. Each reaches every shard at once and answers
 * only when all did (else a 503 naming how many failed, from onEveryShard): nothing is reported
 * revoked, listed or verified that a shard did not confirm.
 */

/** Revokes one handle or every handle of one origin task, wherever its shard is; the count over all shards. */
export async function revokeOnEveryShard(env: WorkerEnv, tenant: string, target: RevocationTarget, reason: string, actor: string): Promise<{ revoked: number }> {
  const answers = await onEveryShard(env, tenant, (ledger) => ledger.revoke(tenant, target, reason, actor));
  return { revoked: answers.reduce((sum, { value }) => sum + value.revoked, 0) };
}

/** Moves the scope's watermark in every shard; the latest watermark any shard set. */
export async function revokeScopeOnEveryShard(env: WorkerEnv, tenant: string, scope: RevocationScope, reason: string, actor: string): Promise<{ issuedBefore: number }> {
  const answers = await onEveryShard(env, tenant, (ledger) => ledger.revokeScope(tenant, scope, reason, actor));
  return { issuedBefore: Math.max(...answers.map(({ value }) => value.issuedBefore)) };
}

/** The tenant's tasks over all shards, newest first, at most `filter.limit`. */
export async function tasksOnEveryShard(env: WorkerEnv, tenant: string, filter: Parameters<DurableObjectStub<import("../ledger/task-ledger.js").TaskLedger>["tasks"]>[1]): Promise<Array<TaskRecord & { shard: number }>> {
  const answers = await onEveryShard(env, tenant, (ledger) => ledger.tasks(tenant, filter));
  const all = answers.flatMap(({ shard, value }) => value.map((task) => ({ ...task, shard })));
  return all.sort((a, b) => b.issuedAt - a.issuedAt || (a.jti < b.jti ? -1 : 1)).slice(0, filter.limit);
}

/** One handle's record, from whichever shard holds it. */
export async function taskOnEveryShard(env: WorkerEnv, tenant: string, jti: string): Promise<(TaskRecord & { shard: number }) | null> {
  const answers = await onEveryShard(env, tenant, (ledger) => ledger.task(tenant, jti));
  const found = answers.find(({ value }) => value !== null);
  return found ? { ...found.value!, shard: found.shard } : null;
}

/** One handle's audit events, from the shard that holds it (each event names its shard). */
export async function handleHistoryOnEveryShard(env: WorkerEnv, tenant: string, jti: string, limit: number): Promise<Array<AuditEvent & { shard: number }>> {
  const answers = await onEveryShard(env, tenant, (ledger) => ledger.handleHistory(tenant, jti, limit));
  return answers.flatMap(({ shard, value }) => value.map((event) => ({ ...event, shard }))).slice(0, limit);
}

/**
 * A cancel cursor: `issued_at:jti` within shard 0 (the shape from before sharding), `k/issued_at:jti`
 * within shard k. Shards are walked in order, each oldest first, so the order is deterministic.
 */
export const SHARDED_CANCEL_CURSOR = /^(?:(\d{1,2})\/)?(\d{1,16}:[A-Za-z0-9_-]{0,200})$/;

/** The in-flight tasks `selector` covers from the cursor on, over the shards in order; each names its shard. */
export async function inFlightOnEveryShard(
  env: WorkerEnv,
  tenant: string,
  selector: CancelSelector,
  cursor: string | undefined,
  limit: number,
): Promise<{ tasks: Array<InFlightTask & { shard: number }>; next: string | null }> {
  const count = shardCountFor(configFor(env).ledgerShards, tenant);
  const parsed = cursor === undefined ? undefined : SHARDED_CANCEL_CURSOR.exec(cursor);
  let shard = parsed?.[1] === undefined ? 0 : Number(parsed[1]);
  let within: string | undefined = parsed?.[2];
  const tasks: Array<InFlightTask & { shard: number }> = [];
  for (; shard < count && tasks.length < limit; shard++, within = undefined) {
    const page = await shardLedger(env, tenant, shard).inFlightTasks(tenant, selector, within, limit - tasks.length);
    tasks.push(...page.tasks.map((task) => ({ ...task, shard })));
    if (page.next !== null) return { tasks, next: shard === 0 ? page.next : `${shard}/${page.next}` };
  }
  return { tasks, next: shard < count ? `${shard}/0:` : null };
}
