import type { Config, WorkerEnv } from "../config.js";
import type { TaskHandleClaims, TaskOp } from "../handle/claims.js";
import type { KeyRing } from "../handle/keyring.js";
import { mintHandle } from "../handle/mint.js";
import { ledgerFor } from "../ledger/ledger-client.js";
import { policyFor } from "../policy/task-policy.js";

export interface DelegationRequest {
  parent: TaskHandleClaims;
  to: { clientId: string; subject: string };
  /** Subset of the parent's operations; default: the parent's. */
  ops?: TaskOp[];
  /** Lifetime; capped by the parent's remaining lifetime. */
  ttlSeconds?: number;
  /** Who delegated: the operator ("admin") or the owner's subject. */
  actor: { sub: string; client_id?: string };
}

export type DelegationResult = { ok: true; handle: string; claims: TaskHandleClaims } | { ok: false; reason: string };

/**
 * Mints an attenuated handle for another principal of the same tenant (RFC 8693 `act`, and
 * `parent` = the parent's jti). The ledger re-checks that the parent is live and the child
 * narrower, in one transaction; revoking the parent later voids the child.
 */
export async function delegateHandle(request: DelegationRequest, keyRing: KeyRing, config: Config, env: WorkerEnv): Promise<DelegationResult> {
  const { parent } = request;
  const ops = request.ops ?? parent.ops;
  if (ops.length === 0 || !ops.every((op) => parent.ops.includes(op))) return { ok: false, reason: "ops must be a non-empty subset of the parent's" };
  const now = Math.floor(Date.now() / 1000);
  const exp = Math.min(parent.exp, request.ttlSeconds ? now + request.ttlSeconds : parent.exp);
  if (exp <= now) return { ok: false, reason: "the parent handle has expired" };
  const { token, claims } = await mintHandle(
    {
      sub: request.to.subject,
      tenant: parent.tenant,
      client_id: request.to.clientId,
      task: parent.task,
      tool: parent.tool,
      ops,
      mcp: parent.mcp,
      exp,
      act: request.actor,
      parent: parent.jti,
    },
    { keyRing, issuer: config.issuer, audience: config.handleAudience },
  );
  const rules = policyFor(config.policy, parent.tool);
  const result = await ledgerFor(env.TASK_LEDGER, parent.tenant).delegate(parent.tenant, {
    jti: claims.jti,
    taskId: parent.task,
    handle: token,
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
  });
  return result.issued ? { ok: true, handle: token, claims } : { ok: false, reason: result.reason };
}
