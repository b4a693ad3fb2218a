import type { MiddlewareHandler } from "hono";
import { configFor } from "../config.js";
import { Refusal } from "../errors.js";
import type { AppEnv } from "../gateway/mcp-endpoint.js";

/** Constant-time comparison of two strings (lengths may leak; contents do not). */
export function timingSafeEqualText(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  let difference = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}

/** Requires `Authorization: Bearer <ADMIN_TOKEN>`; with no ADMIN_TOKEN configured, nobody is admin. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = configFor(c.env).adminToken;
  const presented = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (!expected || !presented || !timingSafeEqualText(presented, expected)) {
    const refusal = new Refusal("admin_unauthorized");
    return c.json({ error: refusal.code, message: refusal.wireMessage }, 401, { "www-authenticate": 'Bearer realm="taskward-admin"' });
  }
  await next();
};
