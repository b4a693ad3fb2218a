import type { Context, MiddlewareHandler } from "hono";
import type { Principal } from "../auth/principal.js";
import { configFor, type Config } from "../config.js";
import { configAt, originNamed, unknownOrigin } from "../origins/index.js";
import type { AppEnv } from "./mcp-endpoint.js";

/** /mcp/<name> for a name no origin has: 404 before authentication, nothing forwarded. */
export const requireKnownOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const name = c.req.param("origin") ?? "";
  if (!originNamed(configFor(c.env), name)) {
    const refusal = unknownOrigin(name);
    return c.json({ error: refusal.code, message: refusal.wireMessage }, 404);
  }
  await next();
};

/** The config an MCP request runs under: the origin its path names (/mcp: the default origin), resolved once. */
export function configForMcpPath(c: Context<AppEnv>): Config {
  const config = configFor(c.env);
  const name = c.req.param("origin");
  const origin = name === undefined ? undefined : originNamed(config, name);
  return configAt(config, origin ? { origin, named: true } : { origin: config.origin, named: false });
}

/** The caller as this origin sees it: behind any origin but the default, rate limits and sealed values carry its name. */
export function behindOrigin(principal: Principal, config: Config): Principal {
  return config.origin.isDefault ? principal : { ...principal, origin: config.origin.name };
}
