import type { MiddlewareHandler } from "hono";
import { configFor } from "../config.js";
import { equalInConstantTime } from "../constant-time.js";
import { Refusal } from "../errors.js";
import type { AppEnv } from "../gateway/mcp-endpoint.js";

/** Requires `Authorization: Bearer <ADMIN_TOKEN>`; with no ADMIN_TOKEN configured, nobody is admin. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = configFor(c.env).adminToken;
  const presented = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (!expected || !presented || !equalInConstantTime(presented, expected)) {
    const refusal = new Refusal("admin_unauthorized");
    return c.json({ error: refusal.code, message: refusal.wireMessage }, 401, { "www-authenticate": 'Bearer realm="taskward-admin"' });
  }
  await next();
};
