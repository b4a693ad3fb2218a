import type { MiddlewareHandler } from "hono";
import { authenticateOperator, type Operator } from "../auth/operators.js";
import { configFor } from "../config.js";
import { Refusal } from "../errors.js";
import type { AppEnv } from "../gateway/mcp-endpoint.js";

export type OperatorEnv = AppEnv & { Variables: { operator: Operator } };

/** Every /admin request names its operator: an OAuth operator token, or ADMIN_TOKEN as break-glass. */
export const requireOperator: MiddlewareHandler<OperatorEnv> = async (c, next) => {
  try {
    c.set("operator", await authenticateOperator(c.req.header("authorization"), configFor(c.env)));
  } catch (error) {
    if (!(error instanceof Refusal) || error.code !== "admin_unauthorized") throw error;
    return c.json({ error: error.code, message: error.wireMessage }, 401, { "www-authenticate": 'Bearer realm="taskward-admin"' });
  }
  await next();
};
