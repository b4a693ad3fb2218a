import { Hono } from "hono";
import { z } from "zod";
import { configFor } from "../config.js";
import type { AppEnv } from "../gateway/mcp-endpoint.js";
import { keyRingResolver } from "../handle/resolve.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { verifyHandle } from "../handle/verify.js";
import { isIdentifier } from "../auth/principal.js";
import { ledgerFor } from "../ledger/ledger-client.js";
import { requireAdmin } from "./admin-auth.js";

const tenantId = z.string().refine(isIdentifier, "must be a tenant identifier");

const RevocationRequest = z.union([
  z.object({ tenant: tenantId, jti: z.string().min(1).max(200), reason: z.string().max(500).optional() }).strict(),
  z.object({ tenant: tenantId, task: z.string().min(1).max(1000), reason: z.string().max(500).optional() }).strict(),
  z.object({ handle: z.string().min(1).max(4096), reason: z.string().max(500).optional() }).strict(),
]);

function badRequest(message: string) {
  return { error: "invalid_request", message };
}

/** /admin: operator endpoints behind the admin credential. */
export const adminRoutes = new Hono<AppEnv>()
  .use("*", requireAdmin)
  .post("/revocations", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    const parsed = RevocationRequest.safeParse(body);
    if (!parsed.success) {
      return c.json(badRequest(`expected {tenant, jti} or {tenant, task} or {handle}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"} ${i.message}`).join("; ")}`), 400);
    }
    const request = parsed.data;
    let tenant: string;
    let target: { jti: string } | { taskId: string };
    if ("handle" in request) {
      const config = configFor(c.env);
      const keyRing = await signingKeyRing(config);
      if (!keyRing) return c.json({ error: "signing_unavailable", message: "no handle keys configured" }, 503);
      // Expired handles may still be revoked (their record lingers until purged), so expiry is not checked here.
      const claims = await verifyHandle(request.handle, {
        issuer: config.issuer,
        audience: config.handleAudience,
        resolveKey: keyRingResolver(keyRing),
        clockToleranceSeconds: 10 * 365 * 86400,
      }).catch(() => undefined);
      if (!claims) return c.json(badRequest("handle does not verify with this authority's keys"), 400);
      tenant = claims.tenant;
      target = { jti: claims.jti };
    } else {
      tenant = request.tenant;
      target = "jti" in request ? { jti: request.jti } : { taskId: request.task };
    }
    const result = await ledgerFor(c.env.TASK_LEDGER, tenant).revoke(tenant, target, request.reason ?? "admin", "admin");
    return c.json({ tenant, ...target, revoked: result.revoked }, result.revoked > 0 ? 200 : 404);
  })
  .get("/tenants/:tenant/tasks/:jti", async (c) => {
    const tenant = c.req.param("tenant");
    if (!isIdentifier(tenant)) return c.json(badRequest("tenant is not an identifier"), 400);
    const task = await ledgerFor(c.env.TASK_LEDGER, tenant).task(tenant, c.req.param("jti"));
    return task ? c.json(task) : c.json({ error: "not_found", message: "no such handle in this tenant" }, 404);
  })
  .get("/tenants/:tenant/audit", async (c) => {
    const tenant = c.req.param("tenant");
    if (!isIdentifier(tenant)) return c.json(badRequest("tenant is not an identifier"), 400);
    const after = Number(c.req.query("after") ?? "0");
    const limit = Math.min(Number(c.req.query("limit") ?? "1000"), 10_000);
    if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit <= 0) return c.json(badRequest("after and limit must be non-negative integers"), 400);
    const events = await ledgerFor(c.env.TASK_LEDGER, tenant).auditEvents(tenant, after, limit);
    const headers: Record<string, string> = { "content-type": "application/x-ndjson; charset=utf-8" };
    const last = events.at(-1);
    if (last && events.length === limit) headers["audit-next-cursor"] = String(last.seq);
    return c.body(events.map((e) => JSON.stringify(e)).join("\n") + (events.length ? "\n" : ""), 200, headers);
  })
  .get("/tenants/:tenant/audit/verify", async (c) => {
    const tenant = c.req.param("tenant");
    if (!isIdentifier(tenant)) return c.json(badRequest("tenant is not an identifier"), 400);
    return c.json(await ledgerFor(c.env.TASK_LEDGER, tenant).verifyAudit(tenant));
  });
