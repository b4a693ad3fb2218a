import { Hono, type Context } from "hono";
import * as z from "../validation.js";
import { configFor } from "../config.js";
import { Refusal } from "../errors.js";
import { isIdentifier } from "../auth/principal.js";
import { TASK_OPS } from "../handle/claims.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { handleLedger, shardLedger } from "../ledger/ledger-client.js";
import { onEveryShard } from "../ledger/shard-fan-out.js";
import { shardCountFor } from "../ledger/shards.js";
import { handleHistoryOnEveryShard, inFlightOnEveryShard, revokeOnEveryShard, revokeScopeOnEveryShard, SHARDED_CANCEL_CURSOR, taskOnEveryShard, tasksOnEveryShard } from "./fan-out.js";
import { createApiKey } from "../auth/api-keys.js";
import { requireGrant, type Operator, type OperatorRole } from "../auth/operators.js";
import type { CancelOutcome, CancelSelector, RevocationScope } from "../ledger/types.js";
import { requireOperator, type OperatorEnv } from "./admin-auth.js";
import { CANCEL_BATCH_LIMIT, cancelAtOrigin } from "./supervisory-cancel.js";
import { toOcsf } from "../siem/ocsf.js";
import { delegateHandle } from "./delegation.js";
import { claimsOfOwnHandle, ownHandle } from "./handle-lookup.js";
import { invalidRequest, parseJsonBody } from "./request-body.js";

const identifier = z.string().check(z.refine(isIdentifier, "must be 1-200 characters of A-Z a-z 0-9 . _ : @ | + -"));
const reason = z.optional(z.string().check(z.maxLength(500)));
const cancel = z.optional(z.boolean());
/** Resumes a bulk cancel: the scope was revoked by the first call, so a call with a cursor only cancels. */
const cursor = z.optional(z.string().check(z.regex(SHARDED_CANCEL_CURSOR)));
/** Smaller cancel batches than CANCEL_BATCH_LIMIT, e.g. to pace a large tenant. */
const limit = z.optional(z.int().check(z.minimum(1), z.maximum(CANCEL_BATCH_LIMIT)));

const RevocationRequest = z.union([
  z.strictObject({ tenant: identifier, jti: z.string().check(z.minLength(1), z.maxLength(200)), reason, cancel }),
  z.strictObject({ tenant: identifier, task: z.string().check(z.minLength(1), z.maxLength(1000)), reason, cancel }),
  z.strictObject({ handle: z.string().check(z.minLength(1), z.maxLength(4096)), reason, cancel }),
  z.strictObject({ tenant: identifier, scope: z.literal("tenant"), reason, cancel, cursor, limit }),
  z.strictObject({ tenant: identifier, client_id: identifier, reason, cancel, cursor, limit }),
  z.strictObject({ tenant: identifier, sub: identifier, reason, cancel, cursor, limit }),
]);
const REVOCATION_SHAPES =
  "{tenant, jti} | {tenant, task} | {handle} | {tenant, scope:\"tenant\"} | {tenant, client_id} | {tenant, sub}, each with reason? and cancel?; bulk scopes also cursor? and limit?";

const DelegationRequest = z.strictObject({
  handle: z.string().check(z.minLength(1), z.maxLength(4096)),
  to: z.strictObject({ client_id: identifier, sub: identifier }),
  ops: z.optional(z.array(z.enum(TASK_OPS)).check(z.minLength(1))),
  ttl_seconds: z.optional(z.int().check(z.positive())),
});

const ApiKeyRequest = z.strictObject({
  client_id: identifier,
  sub: identifier,
  label: z.optional(z.string().check(z.maxLength(200))),
  jkt: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/))),
});

/**
 * The operator, after checking it holds every one of `roles` on `tenant`. A refusal is written to
 * that tenant's audit chain under the operator's id before the 403 that names what is missing.
 */
async function operatorFor(c: Context<OperatorEnv>, tenant: string, ...roles: OperatorRole[]): Promise<Operator> {
  const operator = c.get("operator");
  for (const role of roles) {
    try {
      requireGrant(operator, role, tenant);
    } catch (error) {
      if (error instanceof Refusal) await shardLedger(c.env, tenant, 0).recordOperatorRefusal(tenant, { actor: operator.id, role, reason: error.code });
      throw error;
    }
  }
  return operator;
}

/**
 * Sends the origin the cancel of every in-flight task `selector` covers (at most
 * `limit`, after `cursor`), audits each outcome under the operator, and answers with
 * the outcomes and the cursor of the rest.
 */
async function cancelInFlight(env: OperatorEnv["Bindings"], tenant: string, selector: CancelSelector, after: string | undefined, operator: Operator, limit = CANCEL_BATCH_LIMIT): Promise<{ cancellations: CancelOutcome[]; cancel_cursor: string | null }> {
  const { tasks, next } = await inFlightOnEveryShard(env, tenant, selector, after, limit);
  const config = configFor(env);
  const keyRing = tasks.length > 0 ? await signingKeyRing(config) : undefined;
  // Every call to the origin carries an assertion; without a key none can be made.
  if (tasks.length > 0 && !keyRing) throw new Refusal("signing_unavailable", "no signing key to assert cancels to the origin");
  const cancellations = await Promise.all(tasks.map((task) => cancelAtOrigin(task, tenant, config, keyRing!)));
  // Each outcome is audited in the shard that holds the task.
  const shards = [...new Set(tasks.map((task) => task.shard))];
  await Promise.all(shards.map((shard) => shardLedger(env, tenant, shard).recordCancels(tenant, cancellations.filter((_, i) => tasks[i]!.shard === shard), operator.id)));
  return { cancellations, cancel_cursor: next };
}

/** ?shard= of an audit route (default 0) with the tenant's shard count, or the 400 when it is not one of the tenant's shards. */
function shardParameter(c: Context<OperatorEnv>, tenant: string): { ok: true; shard: number; shards: number } | { ok: false; response: Response } {
  const raw = c.req.query("shard") ?? "0";
  const shard = /^\d{1,2}$/.test(raw) ? Number(raw) : Number.NaN;
  const shards = shardCountFor(configFor(c.env).ledgerShards, tenant);
  if (shard < shards) return { ok: true, shard, shards };
  return { ok: false, response: invalidRequest(c, `shard must be an integer 0-${shards - 1} (this tenant's shards)`) };
}

/** 404 only when nothing matched: no live handle to revoke and (with cancel) no task still running behind one. */
function found(revoked: number, cancelled: { cancellations: CancelOutcome[] } | undefined): 200 | 404 {
  return revoked > 0 || (cancelled?.cancellations.length ?? 0) > 0 ? 200 : 404;
}

/** /admin: operator endpoints; each route names the role it needs and checks the tenant grant. */
export const adminRoutes = new Hono<OperatorEnv>()
  .use("*", requireOperator)
  .use("/tenants/:tenant/*", async (c, next) => {
    if (!isIdentifier(c.req.param("tenant"))) return invalidRequest(c, "tenant is not an identifier");
    await next();
  })
  // Who the credential stands for, so the console can show it and offer only what it may do.
  .get("/whoami", (c) => c.json(c.get("operator")))
  .post("/revocations", async (c) => {
    const body = await parseJsonBody(c, RevocationRequest, REVOCATION_SHAPES);
    if (!body.ok) return body.response;
    const request = body.value;
    const roles: OperatorRole[] = request.cancel ? ["taskward:revoke", "taskward:cancel"] : ["taskward:revoke"];
    const why = request.reason ?? "admin";
    if ("handle" in request) {
      const claims = await claimsOfOwnHandle(request.handle, configFor(c.env), true);
      if (!claims) return invalidRequest(c, "handle does not verify with this authority's keys for any configured origin");
      const operator = await operatorFor(c, claims.tenant, ...roles);
      // The handle names its shard; one its tenant no longer has opens nothing and holds nothing to revoke.
      const result = (await handleLedger(c.env, claims)?.revoke(claims.tenant, { jti: claims.jti }, why, operator.id)) ?? { revoked: 0 };
      const cancelled = request.cancel ? await cancelInFlight(c.env, claims.tenant, { jti: claims.jti }, undefined, operator) : undefined;
      return c.json({ tenant: claims.tenant, jti: claims.jti, revoked: result.revoked, ...cancelled }, found(result.revoked, cancelled));
    }
    const operator = await operatorFor(c, request.tenant, ...roles);
    if ("jti" in request || "task" in request) {
      const target = "jti" in request ? { jti: request.jti } : { taskId: request.task };
      // A jti or an origin task id alone does not name a shard: every shard is asked.
      const result = await revokeOnEveryShard(c.env, request.tenant, target, why, operator.id);
      const cancelled = request.cancel ? await cancelInFlight(c.env, request.tenant, target, undefined, operator) : undefined;
      return c.json({ tenant: request.tenant, ...target, revoked: result.revoked, ...cancelled }, found(result.revoked, cancelled));
    }
    const scope: RevocationScope = "scope" in request ? { scope: "tenant" } : "client_id" in request ? { scope: "client", value: request.client_id } : { scope: "subject", value: request.sub };
    if ((request.cursor !== undefined || request.limit !== undefined) && !request.cancel) return invalidRequest(c, "cursor and limit pace a cancel: send them with cancel: true");
    // A resumed bulk cancel does not move the watermark: handles issued since the first call stay valid.
    // Every shard moves its watermark before this answers; one that fails makes it a 503, never a success.
    const issuedBefore = request.cursor === undefined ? (await revokeScopeOnEveryShard(c.env, request.tenant, scope, why, operator.id)).issuedBefore : undefined;
    const cancelled = request.cancel ? await cancelInFlight(c.env, request.tenant, scope, request.cursor, operator, request.limit) : {};
    return c.json({ tenant: request.tenant, ...scope, ...(issuedBefore !== undefined ? { issuedBefore } : {}), ...cancelled });
  })
  .post("/delegations", async (c) => {
    const body = await parseJsonBody(c, DelegationRequest, "{handle, to: {client_id, sub}, ops?, ttl_seconds?}");
    if (!body.ok) return body.response;
    const config = configFor(c.env);
    const own = await ownHandle(body.value.handle, config);
    const keyRing = await signingKeyRing(config);
    if (!own || !keyRing) return invalidRequest(c, "handle does not verify with this authority's keys for any configured origin, or has expired");
    const parent = own.claims;
    const operator = await operatorFor(c, parent.tenant, "taskward:delegate");
    const result = await delegateHandle(
      { parent, to: { clientId: body.value.to.client_id, subject: body.value.to.sub }, ops: body.value.ops, ttlSeconds: body.value.ttl_seconds, actor: { sub: operator.id } },
      keyRing,
      own.config,
      c.env,
    );
    if (!result.ok) return c.json({ error: "delegation_refused", message: result.reason }, 409);
    return c.json({ handle: result.handle, jti: result.claims.jti, ops: result.claims.ops, exp: result.claims.exp, parent: parent.jti }, 201);
  })
  .get("/tenants/:tenant/tasks", async (c) => {
    const tenant = c.req.param("tenant");
    await operatorFor(c, tenant, "taskward:read");
    const limit = Number(c.req.query("limit") ?? "100");
    const before = c.req.query("before") === undefined ? undefined : Number(c.req.query("before"));
    const since = c.req.query("since") === undefined ? undefined : Number(c.req.query("since"));
    if (!Number.isInteger(limit) || limit <= 0 || limit > 1000 || (before !== undefined && !Number.isInteger(before)) || (since !== undefined && !Number.isInteger(since))) {
      return invalidRequest(c, "limit must be an integer 1-1000, before and since integers (ms since the epoch)");
    }
    const filter = { clientId: c.req.query("client_id"), subject: c.req.query("sub"), tool: c.req.query("tool"), status: c.req.query("status"), since, before, limit };
    const tasks = await tasksOnEveryShard(c.env, tenant, filter);
    const last = tasks.at(-1);
    return c.json({ tasks, next_before: tasks.length === limit && last ? last.issuedAt : null });
  })
  // Issue 2's shape: the jti alone cannot name a ledger (one object per tenant), so the tenant is a query parameter.
  .get("/tasks/:jti", async (c) => {
    const tenant = c.req.query("tenant");
    if (!tenant || !isIdentifier(tenant)) return invalidRequest(c, "?tenant= is required: each tenant has its own ledger");
    await operatorFor(c, tenant, "taskward:read");
    const task = await taskOnEveryShard(c.env, tenant, c.req.param("jti"));
    return task ? c.json(task) : c.json({ error: "not_found", message: "no such handle in this tenant" }, 404);
  })
  .get("/tenants/:tenant/tasks/:jti", async (c) => {
    const tenant = c.req.param("tenant");
    await operatorFor(c, tenant, "taskward:read");
    const task = await taskOnEveryShard(c.env, tenant, c.req.param("jti"));
    return task ? c.json(task) : c.json({ error: "not_found", message: "no such handle in this tenant" }, 404);
  })
  .get("/tenants/:tenant/tasks/:jti/audit", async (c) => {
    const tenant = c.req.param("tenant");
    await operatorFor(c, tenant, "taskward:audit");
    const events = await handleHistoryOnEveryShard(c.env, tenant, c.req.param("jti"), 1000);
    return c.json({ jti: c.req.param("jti"), events });
  })
  .get("/tenants/:tenant/audit", async (c) => {
    const tenant = c.req.param("tenant");
    await operatorFor(c, tenant, "taskward:audit");
    const after = Number(c.req.query("after") ?? "0");
    const limit = Number(c.req.query("limit") ?? "1000");
    if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit <= 0 || limit > 10_000) {
      return invalidRequest(c, "after must be a non-negative integer and limit an integer 1-10000");
    }
    const format = c.req.query("format") ?? "chain";
    if (format !== "chain" && format !== "ocsf") return invalidRequest(c, `format must be "chain" (default) or "ocsf", got ${JSON.stringify(format)}`);
    const sharded = shardParameter(c, tenant);
    if (!sharded.ok) return sharded.response;
    const { shard, shards } = sharded;
    const { events, anchor, anchorCheckpoint } = await shardLedger(c.env, tenant, shard).auditEvents(tenant, after, limit);
    // Each shard keeps its own chain: the export of one shard says how many there are.
    const headers: Record<string, string> = { "content-type": "application/x-ndjson; charset=utf-8", "audit-shard": String(shard), "audit-shards": String(shards) };
    const last = events.at(-1);
    if (last && events.length === limit) headers["audit-next-cursor"] = String(last.seq);
    if (anchor) headers["audit-anchor"] = `${anchor.seq}:${anchor.prevHash}`;
    if (anchorCheckpoint) headers["audit-anchor-checkpoint"] = anchorCheckpoint;
    const lines = events.map((e) => JSON.stringify(format === "ocsf" ? toOcsf(e, tenant, shard) : e));
    return c.body(lines.join("\n") + (events.length ? "\n" : ""), 200, headers);
  })
  .get("/tenants/:tenant/audit/verify", async (c) => {
    const tenant = c.req.param("tenant");
    await operatorFor(c, tenant, "taskward:audit");
    const answers = await onEveryShard(c.env, tenant, (ledger) => ledger.verifyAudit(tenant));
    // Valid only when every shard's chain is; the figures are the sums, and each shard reports its own.
    const broken = answers.find(({ value }) => !value.valid);
    const shards = answers.map(({ shard, value }) => ({ shard, ...value }));
    return c.json({
      ...(broken ? { ...broken.value, ...(answers.length > 1 ? { shard: broken.shard } : {}) } : answers[0]!.value),
      valid: broken === undefined,
      events: answers.reduce((sum, { value }) => sum + value.events, 0),
      checkpoints: answers.reduce((sum, { value }) => sum + value.checkpoints, 0),
      ...(answers.length > 1 ? { shards } : {}),
    });
  })
  // A signed checkpoint of the chain head, taken now: keep it to verify later exports offline.
  .get("/tenants/:tenant/audit/checkpoint", async (c) => {
    const tenant = c.req.param("tenant");
    await operatorFor(c, tenant, "taskward:audit");
    const sharded = shardParameter(c, tenant);
    if (!sharded.ok) return sharded.response;
    const { shard, shards } = sharded;
    const checkpoint = await shardLedger(c.env, tenant, shard).checkpoint(tenant);
    if (!checkpoint) return c.json({ error: "not_found", message: "this tenant has no audit trail in this shard" }, 404);
    return c.json({ tenant, shard, shards, seq: checkpoint.seq, hash: checkpoint.hash, checkpoint: checkpoint.jws });
  })
  .post("/tenants/:tenant/api-keys", async (c) => {
    const tenant = c.req.param("tenant");
    const operator = await operatorFor(c, tenant, "taskward:api-keys");
    const body = await parseJsonBody(c, ApiKeyRequest, "{client_id, sub, label?, jkt?}");
    if (!body.ok) return body.response;
    const { key, record } = await createApiKey(c.env, tenant, { clientId: body.value.client_id, subject: body.value.sub, label: body.value.label, jkt: body.value.jkt }, operator.id);
    return c.json({ key, ...record, note: "The key is shown once; only its SHA-256 is stored." }, 201);
  })
  .delete("/tenants/:tenant/api-keys/:id", async (c) => {
    const tenant = c.req.param("tenant");
    const operator = await operatorFor(c, tenant, "taskward:api-keys");
    const revoked = await shardLedger(c.env, tenant, 0).revokeApiKey(tenant, c.req.param("id"), operator.id);
    return revoked ? c.json({ revoked: true }) : c.json({ error: "not_found", message: "no live API key with that id" }, 404);
  });
