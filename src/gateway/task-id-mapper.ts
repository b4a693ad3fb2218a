import type { Principal } from "../auth/principal.js";
import type { Config, WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import type { TaskHandleClaims } from "../handle/claims.js";
import type { KeyRing } from "../handle/keyring.js";
import { mintHandle } from "../handle/mint.js";
import { sealCursor } from "../handle/cursor.js";
import { shardLedger } from "../ledger/ledger-client.js";
import { onEveryShard } from "../ledger/shard-fan-out.js";
import { shardForKey, shardForNewHandle, shardOfHandle } from "../ledger/shards.js";
import { ledgerPrincipalOf } from "../ledger/types.js";
import type { CreatedTask, TaskIdMapper } from "../mcp/rewrite.js";
import type { RevisionModule } from "../mcp/revisions/index.js";
import type { AuthorizedSubscription } from "./authorize-follow-up.js";
import { effectiveTtlMs, opsFor, policyFor, ttlCapSeconds } from "../policy/task-policy.js";

export interface MapperScope {
  env: WorkerEnv;
  config: Config;
  principal: Principal;
  /** Set for task-creating calls. */
  /** `originSession`: the origin's Mcp-Session-Id the task is created on, kept for a supervisory cancel. */
  /** `callerRegion`: the location hint of the creating request, for placing the handle's shard. */
  creation?: { tool: string; version: string; module: RevisionModule; keyRing: KeyRing; txn?: string; originSession?: string | undefined; callerRegion?: DurableObjectLocationHint | undefined };
  /** Set for follow-ups: the verified handle the request named, the status the ledger last saw, and whether its payload may be shown. */
  followUp?: { handle: string; claims: TaskHandleClaims; taskId: string; status?: string; resultAllowed: boolean };
  /** Set for subscriptions/listen: the authorized handles of the subscribed tasks. */
  subscriptions?: AuthorizedSubscription[];
  /** Set for tasks/list: signs cursors; `inboundCursor` is the origin cursor the client's sealed one opened to. */
  listing?: { keyRing: KeyRing; inboundCursor?: { origin: string; sealed: string } };
  /** The client's method, for the audit detail of a withheld payload. */
  requestMethod?: string;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * The TaskIdMapper for one request: mints on creation (in the shard it picks), knows the
 * follow-up's own handle, asks every shard of the caller's tenant ledger for anything else.
 * Ledger failures propagate: fail closed.
 */
export function taskIdMapperFor(scope: MapperScope): TaskIdMapper {
  const { config, principal } = scope;
  const ttlByTask = new Map<string, number>();
  /** The shard holding each task's handles, where this request learnt it (its handle, a mint, a lookup). */
  const shardByTask = new Map<string, number>();
  const observed = new Map<string, string>();
  const ledgerPrincipal = ledgerPrincipalOf(principal);
  /**
   * The handles this request authorized, by origin id (the follow-up's own task, or the subscribed
   * ones): their client names are known without the ledger, and only they may carry a result payload.
   */
  const authorized = new Map<string, { handle: string; claims: TaskHandleClaims; resultAllowed: boolean }>();
  // A status the ledger already holds is not written again: most polls then cost one ledger call.
  if (scope.followUp?.status !== undefined) observed.set(scope.followUp.taskId, scope.followUp.status);
  for (const { handle, claims, taskId, resultAllowed } of [...(scope.followUp ? [scope.followUp] : []), ...(scope.subscriptions ?? [])]) {
    authorized.set(taskId, { handle, claims, resultAllowed });
    ttlByTask.set(taskId, (claims.exp - claims.iat) * 1000);
    shardByTask.set(taskId, claims.shd ?? 0);
  }

  return {
    async mint(task: CreatedTask) {
      if (!scope.creation) throw new Refusal("origin_invalid_response", "task created outside tools/call");
      const { tool, version, module, keyRing } = scope.creation;
      const rules = policyFor(config.policy, tool);
      if (rules.taskSupport === "forbidden") {
        throw new Refusal("task_support_forbidden", `origin created a task for ${tool}`, `Policy forbids running tool ${tool} as a task`);
      }
      const ttlMs = effectiveTtlMs(task.ttlMs, ttlCapSeconds(rules, config.maxTaskTtlSeconds));
      const now = Date.now();
      const { callerRegion } = scope.creation;
      // A key-bound handle lives where its key's proofs are spent (one round trip per follow-up); any other is spread.
      const shard = principal.jkt !== undefined ? shardForKey(config.ledgerShards, principal.tenant, principal.jkt) : shardForNewHandle(config.ledgerShards, principal.tenant, callerRegion);
      const grant = {
        sub: principal.subject,
        tenant: principal.tenant,
        client_id: principal.clientId,
        tool,
        ops: opsFor(rules, module),
        mcp: version,
        exp: Math.floor((now + ttlMs) / 1000),
        // A caller that proved a key gets a handle only that key opens (RFC 9449 confirmation).
        ...(principal.jkt !== undefined ? { cnf: { jkt: principal.jkt } } : {}),
        // Shard 0 stays unnamed: handles read the same as before sharding.
        ...(shard > 0 ? { shd: shard } : {}),
      };
      const context = { keyRing, issuer: config.issuer, audience: config.handleAudience, now: () => now };
      // The client's handle names no origin task; the origin's copy (same jti) does.
      const { token, claims } = await mintHandle(grant, context);
      const { token: originHandle } = await mintHandle({ ...grant, jti: claims.jti, task: task.taskId }, context);
      // Recorded before the handle is shown: a handle the ledger does not know never leaves.
      await shardLedger(scope.env, principal.tenant, shard, callerRegion).issue(principal.tenant, {
        jti: claims.jti,
        taskId: task.taskId,
        handle: token,
        originHandle,
        principal: ledgerPrincipal,
        tool,
        ops: claims.ops,
        mcp: version,
        bind: rules.bind,
        maxAuthAgeSeconds: rules.maxAuthAgeSeconds,
        stepUpOps: rules.stepUpOps,
        status: task.status,
        issuedAt: now,
        expiresAt: claims.exp * 1000,
        session: principal.session,
        audience: config.handleAudience,
        ...(scope.creation.txn !== undefined ? { txn: scope.creation.txn } : {}),
        ...(principal.jkt !== undefined ? { jkt: principal.jkt } : {}),
        ...(scope.creation.originSession ? { originSession: scope.creation.originSession } : {}),
      });
      ttlByTask.set(task.taskId, ttlMs);
      shardByTask.set(task.taskId, shard);
      return { handle: token, ttlMs };
    },

    async resolve(taskIds: string[]) {
      const handles = new Map<string, string>();
      const unknown: string[] = [];
      for (const taskId of taskIds) {
        const handle = authorized.get(taskId)?.handle;
        if (handle !== undefined) handles.set(taskId, handle);
        else unknown.push(taskId);
      }
      if (unknown.length > 0) {
        // A task's handles may be in any shard: every shard is asked at once, and one that fails fails the answer.
        const answers = await onEveryShard(scope.env, principal.tenant, (ledger) => ledger.ownedHandles(principal.tenant, ledgerPrincipal, unknown, { audience: config.handleAudience, isDefault: config.origin.isDefault }));
        for (const { shard, value: owned } of answers) {
          for (const [taskId, { handle, ttlMs, status }] of Object.entries(owned)) {
            if (handles.has(taskId)) continue;
            handles.set(taskId, handle);
            ttlByTask.set(taskId, ttlMs);
            observed.set(taskId, status);
            shardByTask.set(taskId, shard);
          }
        }
      }
      return handles;
    },

    observeDelivery() {
      // Only the follow-up's own task is delivered by its answer (authorize made its tenant the caller's).
      const followUp = scope.followUp;
      if (!followUp) return;
      scope.waitUntil(shardLedger(scope.env, principal.tenant, followUp.claims.shd ?? 0).observeDelivery(principal.tenant, followUp.claims.jti).catch(() => undefined));
    },

    observeStatus(taskId: string, status: string) {
      if (observed.get(taskId) === status) return;
      observed.set(taskId, status);
      const shard = shardByTask.get(taskId);
      // A task this request did not learn the shard of is updated wherever its handles are.
      const written = shard === undefined
        ? onEveryShard(scope.env, principal.tenant, (ledger) => ledger.observeStatus(principal.tenant, taskId, status))
        : shardLedger(scope.env, principal.tenant, shard).observeStatus(principal.tenant, taskId, status);
      scope.waitUntil(written.catch(() => undefined));
    },

    effectiveTtlMs(taskId: string) {
      return ttlByTask.get(taskId);
    },

    async sealCursor(cursor: string) {
      if (!scope.listing) throw new Refusal("origin_invalid_response", "pagination cursor outside tasks/list");
      return sealCursor(cursor, ledgerPrincipal, scope.listing.keyRing, config.issuer);
    },

    payloadAllowed(taskId: string) {
      return authorized.get(taskId)?.resultAllowed === true;
    },

    observeWithheld(taskId: string, fields: string[]) {
      const claims = authorized.get(taskId)?.claims;
      const tenant = claims?.tenant ?? principal.tenant;
      const shard = (claims && shardOfHandle(config.ledgerShards, claims)) ?? 0;
      const detail = { fields, method: scope.requestMethod ?? null, ...(claims ? {} : { task: taskId }) };
      scope.waitUntil(shardLedger(scope.env, tenant, shard).recordWithheld(tenant, claims?.jti ?? null, ledgerPrincipal, detail).catch(() => undefined));
    },

    knownNames() {
      const names = new Map<string, string>([...authorized].map(([taskId, { handle }]) => [taskId, handle]));
      if (scope.listing?.inboundCursor) names.set(scope.listing.inboundCursor.origin, scope.listing.inboundCursor.sealed);
      return names;
    },
  };
}
