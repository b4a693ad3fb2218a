import type { Config, WorkerEnv } from "../config.js";
import type { Actor, TaskHandleClaims, TaskOp } from "../handle/claims.js";
import type { KeyRing } from "../handle/keyring.js";
import { mintHandle } from "../handle/mint.js";
import { handleLedger } from "../ledger/ledger-client.js";
import { policyFor } from "../policy/task-policy.js";

export interface DelegationRequest {
  parent: TaskHandleClaims;
  to: { clientId: string; subject: string };
  /** Subset of the parent's operations; default: the parent's. */
  ops?: TaskOp[];
  /** Lifetime; capped by the parent's remaining lifetime. */
  ttlSeconds?: number;
  /** Who delegates: the operator ("admin") or the holder's subject. */
  actor: { sub: string; client_id?: string };
}

export type DelegationResult = { ok: true; handle: string; claims: TaskHandleClaims } | { ok: false; reason: string };

/**
 * The `act` of a handle delegated by `actor` from `parent` (RFC 8693 §4.1): the actor now, with
 * whoever delegated the parent nested inside, so the whole chain travels with the handle.
 */
export function nestedActor(actor: DelegationRequest["actor"], parent: TaskHandleClaims): Actor {
  return { ...actor, ...(parent.act ? { act: parent.act } : {}) };
}

/**
 * Whether a holder (not an operator) may delegate `parent`, under the policy of the origin it was
 * minted for (`config`, from `ownHandle`): an owner where the tool's policy sets `ownerMayDelegate`;
 * a delegate only where it also sets `delegatesMayDelegate`.
 */
export function holderMayDelegate(parent: TaskHandleClaims, config: Config): { ok: true } | { ok: false; message: string } {
  const rules = policyFor(config.policy, parent.tool);
  if (!rules.ownerMayDelegate) return { ok: false, message: `Policy does not let owners delegate tasks of tool ${parent.tool}` };
  if (parent.parent !== undefined && !rules.delegatesMayDelegate) {
    return { ok: false, message: `Policy does not let delegates re-delegate tasks of tool ${parent.tool}` };
  }
  return { ok: true };
}

/**
 * Mints an attenuated handle for another principal of the same tenant (`act`, and `parent` =
 * the parent's jti), for the parent's origin and under its policy (`config`, from `ownHandle`).
 * The ledger re-checks that the parent is live and the child narrower, in one transaction;
 * revoking the parent later voids the child.
 */
export async function delegateHandle(request: DelegationRequest, keyRing: KeyRing, config: Config, env: WorkerEnv): Promise<DelegationResult> {
  const { parent } = request;
  const ops = request.ops ?? parent.ops;
  if (ops.length === 0 || !ops.every((op) => parent.ops.includes(op))) return { ok: false, reason: "ops must be a non-empty subset of the parent's" };
  const now = Math.floor(Date.now() / 1000);
  const exp = Math.min(parent.exp, request.ttlSeconds ? now + request.ttlSeconds : parent.exp);
  if (exp <= now) return { ok: false, reason: "the parent handle has expired" };
  // The child lives in its parent's shard: the ledger checks the parent in the same transaction.
  const ledger = handleLedger(env, parent);
  if (!ledger) return { ok: false, reason: "parent handle unknown" };
  // Client handles name no origin task; the ledger knows it.
  const taskId = parent.task ?? (await ledger.task(parent.tenant, parent.jti))?.taskId;
  if (taskId === undefined) return { ok: false, reason: "parent handle unknown" };
  const act = nestedActor(request.actor, parent);
  const grant = { sub: request.to.subject, tenant: parent.tenant, client_id: request.to.clientId, tool: parent.tool, ops, mcp: parent.mcp, exp, act, parent: parent.jti, ...(parent.shd ? { shd: parent.shd } : {}) };
  const context = { keyRing, issuer: config.issuer, audience: config.handleAudience };
  const { token, claims } = await mintHandle(grant, context);
  const { token: originHandle } = await mintHandle({ ...grant, jti: claims.jti, task: taskId }, context);
  const rules = policyFor(config.policy, parent.tool);
  const result = await ledger.delegate(parent.tenant, {
    jti: claims.jti,
    taskId,
    handle: token,
    originHandle,
    principal: { tenant: parent.tenant, clientId: request.to.clientId, subject: request.to.subject },
    tool: parent.tool,
    ops,
    mcp: parent.mcp,
    bind: rules.bind,
    maxAuthAgeSeconds: rules.maxAuthAgeSeconds,
    stepUpOps: rules.stepUpOps,
    status: "working",
    issuedAt: Date.now(),
    expiresAt: exp * 1000,
    parent: parent.jti,
    actor: request.actor.sub,
    act,
    audience: config.handleAudience,
  });
  return result.issued ? { ok: true, handle: token, claims } : { ok: false, reason: result.reason };
}
