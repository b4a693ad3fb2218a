import type { Principal } from "../auth/principal.js";
import type { Config, WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import type { TaskHandleClaims, TaskOp } from "../handle/claims.js";
import { TaskHandleError } from "../handle/errors.js";
import type { KeyRing } from "../handle/keyring.js";
import { verifyOwnHandle } from "../handle/verify-cached.js";
import { shardLedger } from "../ledger/ledger-client.js";
import { shardForKey, shardOfHandle } from "../ledger/shards.js";
import { spendProof } from "../auth/dpop-replay.js";
import { ledgerPrincipalOf, type AuthorizeExtras, type DenialReason } from "../ledger/types.js";
import { moduleFor, type RevisionModule } from "../mcp/revisions/index.js";
import { rulesInForce } from "../policy/task-policy.js";
import { invalidProof } from "../auth/proof-of-possession.js";
import { proofBindingDenial } from "../handle/proof-binding.js";
import { configForAudience, unverifiedAudienceOf } from "../origins/index.js";

export interface AuthorizedFollowUp {
  claims: TaskHandleClaims;
  /** The origin's id of the task, from the ledger (client handles do not carry it). */
  taskId: string;
  /** The origin-facing copy of the handle, forwarded for stateless verification. */
  originHandle: string;
  /** The task status the ledger last saw. */
  status: string;
  /** The caller may also receive the task's result payload (operations by effect: a status answer can carry it). */
  resultAllowed: boolean;
}

/** Thrown for every refused follow-up: the wire sees "Task not found", the ledger has the reason. */
export class FollowUpRefused extends Refusal {
  constructor(readonly reason: DenialReason | string) {
    super("unknown_task", reason);
  }
}

/**
 * Verifies the handle, then asks the ledger shard it names (of the owning tenant) to decide and
 * audit — one round trip. Handles that fail verification are audited in shard 0 of the caller's ledger. A ledger failure
 * rejects with `ledger_unavailable` (see ledgerFor): the call is refused, never forwarded.
 */
export async function authorizeFollowUp(
  handle: string,
  op: TaskOp,
  module: RevisionModule,
  principal: Principal,
  keyRing: KeyRing,
  config: Config,
  env: WorkerEnv,
  extras: AuthorizeExtras = {},
): Promise<AuthorizedFollowUp> {
  const who = ledgerPrincipalOf(principal);
  let claims: TaskHandleClaims;
  try {
    claims = await verifyOwnHandle(handle, keyRing, config.issuer, config.handleAudience);
  } catch (error) {
    if (error instanceof TaskHandleError && error.claim === "aud") await refuseOtherOriginsHandle(handle, op, who, keyRing, config, env);
    const code = error instanceof TaskHandleError ? error.code : "ERR_HANDLE_MALFORMED";
    await recordRefusal(env, principal.tenant, who, "handle_invalid", { code, op });
    throw new FollowUpRefused(`handle_invalid:${code}`);
  }
  const shard = shardOfHandle(config.ledgerShards, claims);
  if (shard === undefined) {
    // A shard the tenant no longer has: no revocation reaches it any more, so it opens nothing.
    await recordRefusal(env, claims.tenant, who, "unknown_handle", { op, shard: claims.shd }, claims.jti);
    throw new FollowUpRefused("unknown_shard");
  }
  if (!module.servesHandleOf(moduleFor(claims.mcp), op)) {
    await recordRefusal(env, claims.tenant, who, "operation_not_allowed", { op, minted: claims.mcp, used: module.name }, claims.jti, shard);
    throw new FollowUpRefused("revision_mismatch");
  }
  const unbound = proofBindingDenial(claims, principal);
  if (unbound) {
    await recordRefusal(env, claims.tenant, who, unbound, { op }, claims.jti, shard);
    throw new FollowUpRefused(unbound);
  }
  const rules = rulesInForce(config.policy, config.policyVersion, config.maxTaskTtlSeconds, claims.tool);
  // A proof is spent where its key's proofs are: in this decision when that is the handle's shard
  // (a key-bound handle always is), else first, in a call of its own, so no shard accepts a replay.
  const { proof, ...rest } = extras;
  const proofHere = proof !== undefined && principal.jkt !== undefined && claims.tenant === principal.tenant && shardForKey(config.ledgerShards, principal.tenant, principal.jkt) === shard;
  if (proof !== undefined && !proofHere) await spendProof(env, principal);
  // The handle names its shard: one ledger round trip (two only for a proof spent elsewhere).
  const decision = await shardLedger(env, claims.tenant, shard).authorize(claims.tenant, claims.jti, op, who, claims.task, { ...rest, ...(proofHere ? { proof } : {}), rules });
  if (!decision.allowed) {
    if (decision.reason === "dpop_replay") throw invalidProof("the proof's jti was already used (replay)");
    if (decision.reason === "step_up_required") throw stepUpRefusal(decision.maxAuthAgeSeconds, principal.authTime === undefined);
    if (decision.reason === "rate_limited") throw rateLimitRefusal(decision.retryAfterSeconds);
    throw new FollowUpRefused(decision.reason);
  }
  return { claims, taskId: decision.taskId, originHandle: decision.originHandle, status: decision.status, resultAllowed: decision.resultAllowed };
}

/**
 * A handle whose `aud` is not this origin's: when it is another configured origin's genuine handle,
 * it is refused like any unknown task and audited as `origin_mismatch` in its owner's ledger, with
 * its jti. Any other audience returns, to be audited as `handle_invalid` (ERR_HANDLE_CLAIM).
 */
async function refuseOtherOriginsHandle(handle: string, op: TaskOp, who: { tenant: string; clientId: string; subject: string }, keyRing: KeyRing, config: Config, env: WorkerEnv): Promise<void> {
  const minted = configForAudience(config, unverifiedAudienceOf(handle));
  const claims = minted ? await verifyOwnHandle(handle, keyRing, config.issuer, minted.handleAudience).catch(() => undefined) : undefined;
  if (!minted || !claims) return;
  // Recorded in the handle's own shard (a shard the tenant no longer has: shard 0), like every refusal of a genuine handle.
  await recordRefusal(env, claims.tenant, who, "origin_mismatch", { op, minted: minted.origin.name, used: config.origin.name }, claims.jti, shardOfHandle(config.ledgerShards, claims) ?? 0);
  throw new FollowUpRefused("origin_mismatch");
}

async function recordRefusal(env: WorkerEnv, tenant: string, who: { tenant: string; clientId: string; subject: string }, reason: DenialReason, detail: unknown, jti?: string, shard = 0): Promise<void> {
  const { retryAfterSeconds } = await shardLedger(env, tenant, shard).recordRefusal(tenant, who, reason, detail, jti);
  if (retryAfterSeconds > 0) throw rateLimitRefusal(retryAfterSeconds);
}

/** RFC 9470 step-up: the caller must re-authenticate; said only to the task's rightful holder. */
function stepUpRefusal(maxAgeSeconds: number, noAuthTime = false): Refusal {
  const message = `This operation requires an authentication at most ${maxAgeSeconds} seconds old${noAuthTime ? "; the access token carries no auth_time claim" : ""}`;
  return new Refusal("step_up_required", noAuthTime ? "token has no auth_time" : `auth older than ${maxAgeSeconds}s`, message, { maxAge: maxAgeSeconds }, {
    "www-authenticate": `Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=${maxAgeSeconds}`,
  });
}

export function rateLimitRefusal(retryAfterSeconds: number): Refusal {
  return new Refusal("rate_limited", `retry after ${retryAfterSeconds}s`, `Too many requests; retry after ${retryAfterSeconds} seconds`, { retryAfterSeconds }, {
    "retry-after": String(retryAfterSeconds),
  });
}

/** A subscribed task, authorized like a `get`: the handle the client named and what `authorizeFollowUp` decided. */
export type AuthorizedSubscription = { handle: string } & Omit<AuthorizedFollowUp, "status">;

/**
 * subscriptions/listen names tasks by handle: each is authorized like a `get`; refused ones are
 * dropped from the forwarded filter (and so from the acknowledgement), as the origin would for
 * ids it does not know.
 */
export async function authorizeSubscriptions(
  handles: string[],
  module: RevisionModule,
  principal: Principal,
  keyRing: KeyRing,
  config: Config,
  env: WorkerEnv,
): Promise<AuthorizedSubscription[]> {
  const allowed: AuthorizedSubscription[] = [];
  for (const handle of new Set(handles)) {
    try {
      const { claims, taskId, originHandle, resultAllowed } = await authorizeFollowUp(handle, "get", module, principal, keyRing, config, env);
      allowed.push({ handle, claims, taskId, originHandle, resultAllowed });
    } catch (error) {
      if (!(error instanceof FollowUpRefused)) throw error;
    }
  }
  return allowed;
}
