import { Hono, type Context, type MiddlewareHandler } from "hono";
import * as z from "../validation.js";
import type { Principal } from "../auth/principal.js";
import { authenticateCaller } from "../auth/proof-of-possession.js";
import { spendProof } from "../auth/dpop-replay.js";
import { bearerChallenge } from "../auth/authenticate.js";
import { isIdentifier } from "../auth/principal.js";
import { configFor, type Config } from "../config.js";
import { Refusal } from "../errors.js";
import type { AppEnv } from "../gateway/mcp-endpoint.js";
import { TASK_OPS } from "../handle/claims.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { handleLedger } from "../ledger/ledger-client.js";
import { proofBindingDenial } from "../handle/proof-binding.js";
import { equalInConstantTime } from "../constant-time.js";
import { delegateHandle, holderMayDelegate } from "./delegation.js";
import { claimsOfOwnHandle, ownHandle } from "./handle-lookup.js";
import { invalidRequest, parseJsonBody } from "./request-body.js";

/** The `token` parameter of an RFC 7009 / RFC 7662 request (form-encoded, JSON tolerated). */
async function tokenParameter(c: Context<CallerEnv>): Promise<string | undefined> {
  const type = c.req.header("content-type") ?? "";
  if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    return typeof form.token === "string" ? form.token : undefined;
  }
  const json = await c.req.json().catch(() => undefined);
  return json && typeof json.token === "string" ? json.token : undefined;
}

function unauthorized(c: Context<CallerEnv>, config: Config): Response {
  return c.json({ error: "invalid_client", error_description: "Authorization: Bearer credentials are required" }, 401, { "www-authenticate": bearerChallenge(config) });
}

type CallerEnv = AppEnv & { Variables: { principal: Principal } };

/** Authenticates the caller like /mcp does; a missing or bad credential is an OAuth-style 401. */
const requireCaller: MiddlewareHandler<CallerEnv> = async (c, next) => {
  const config = configFor(c.env);
  try {
    // DPoP-bound tokens need their proof here too; a replayed proof is refused like at /mcp.
    const principal = await authenticateCaller(c.req.raw, config, c.env);
    await spendProof(c.env, principal);
    c.set("principal", principal);
  } catch (error) {
    if (error instanceof Refusal && error.status === 401) return unauthorized(c, config);
    throw error;
  }
  await next();
};

const OwnerDelegation = z.strictObject({
  taskId: z.string().check(z.minLength(1), z.maxLength(4096)),
  to: z.strictObject({ client_id: z.string().check(z.refine(isIdentifier)), sub: z.string().check(z.refine(isIdentifier)) }),
  ops: z.optional(z.array(z.enum(TASK_OPS)).check(z.minLength(1))),
  ttl_seconds: z.optional(z.int().check(z.positive())),
});

/** RFC 7009 revocation and RFC 7662 introspection of task handles, and owner delegation. */
export const tokenEndpoints = new Hono<CallerEnv>()
  // RFC 7009: a client revokes a handle it holds. Unknown or foreign handles still answer 200 (§2.2).
  .post("/revoke", requireCaller, async (c) => {
    const config = configFor(c.env);
    const principal = c.get("principal");
    const token = await tokenParameter(c);
    if (!token) return c.json({ error: "invalid_request", error_description: "the token parameter is required" }, 400);
    const claims = await claimsOfOwnHandle(token, config, true);
    const owns = claims && claims.tenant === principal.tenant && claims.client_id === principal.clientId && claims.sub === principal.subject && !proofBindingDenial(claims, principal);
    if (claims && owns) await handleLedger(c.env, claims)?.revoke(claims.tenant, { jti: claims.jti }, "self", `${principal.clientId}/${principal.subject}`);
    return c.body(null, 200);
  })
  // RFC 7662: origins ask whether a handle is live right now.
  .post("/introspect", async (c) => {
    const config = configFor(c.env);
    const presented = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
    const allowed = [config.introspectionToken, config.adminToken].filter((t): t is string => !!t);
    if (!presented || !allowed.some((t) => equalInConstantTime(presented, t))) return unauthorized(c, config);
    const token = await tokenParameter(c);
    if (!token) return c.json({ error: "invalid_request", error_description: "the token parameter is required" }, 400);
    const claims = await claimsOfOwnHandle(token, config);
    if (!claims || !(await handleLedger(c.env, claims)?.isActive(claims.tenant, claims.jti))) return c.json({ active: false });
    return c.json({ active: true, token_type: "mcp-task-handle", ...claims });
  })
  // The owner of a handle delegates an attenuated copy, when the tool's policy allows it.
  .post("/delegations", requireCaller, async (c) => {
    const config = configFor(c.env);
    const principal = c.get("principal");
    const body = await parseJsonBody(c, OwnerDelegation, "{taskId, to: {client_id, sub}, ops?, ttl_seconds?}");
    if (!body.ok) return body.response;
    const own = await ownHandle(body.value.taskId, config);
    const parent = own?.claims;
    // A key-bound handle is the caller's only while it proves the key: else an unbound copy could be made.
    const owns = parent && parent.tenant === principal.tenant && parent.client_id === principal.clientId && parent.sub === principal.subject && !proofBindingDenial(parent, principal);
    // Not owning a handle answers like not knowing it.
    if (!own || !parent || !owns) return c.json({ error: "not_found", message: "Task not found" }, 404);
    const permitted = holderMayDelegate(parent, own.config);
    if (!permitted.ok) return c.json({ error: "forbidden", message: permitted.message }, 403);
    const keyRing = await signingKeyRing(config);
    if (!keyRing) return c.json({ error: "signing_unavailable", message: "no signing key" }, 503);
    const result = await delegateHandle(
      { parent, to: { clientId: body.value.to.client_id, subject: body.value.to.sub }, ops: body.value.ops, ttlSeconds: body.value.ttl_seconds, actor: { sub: principal.subject, client_id: principal.clientId } },
      keyRing,
      own.config,
      c.env,
    );
    if (!result.ok) return invalidRequest(c, result.reason);
    return c.json({ handle: result.handle, jti: result.claims.jti, ops: result.claims.ops, exp: result.claims.exp }, 201);
  });
