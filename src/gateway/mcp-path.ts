import type { Context, MiddlewareHandler } from "hono";
import type { Principal } from "../auth/principal.js";
import { configFor, type Config, type WorkerEnv } from "../config.js";
import { configAt, originNamed, unknownOrigin } from "../origins/index.js";
import type { AppEnv } from "./mcp-endpoint.js";

/** One request to /mcp or /mcp/<name>, as the MCP handlers need it (taken from Hono's context). */
export interface McpCall {
  request: Request;
  env: WorkerEnv;
  /** The <name> of /mcp/<name>, decoded; undefined on /mcp. */
  originName: string | undefined;
  waitUntil(promise: Promise<unknown>): void;
}

export function mcpCallOf(c: Context<AppEnv>): McpCall {
  return { request: c.req.raw, env: c.env, originName: c.req.param("origin"), waitUntil: (p) => c.executionCtx.waitUntil(p) };
}

/** /mcp/<name> for a name no origin has: 404 before authentication, nothing forwarded. */
export function unknownOriginResponse(env: WorkerEnv, name: string): Response | undefined {
  if (originNamed(configFor(env), name)) return undefined;
  const refusal = unknownOrigin(name);
  return Response.json({ error: refusal.code, message: refusal.wireMessage }, { status: 404 });
}

export const requireKnownOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const refused = unknownOriginResponse(c.env, c.req.param("origin") ?? "");
  if (refused) return refused;
  await next();
};

/** The config an MCP request runs under: the origin its path names (/mcp: the default origin), resolved once. */
export function configForMcpCall(env: WorkerEnv, name: string | undefined): Config {
  const config = configFor(env);
  const origin = name === undefined ? undefined : originNamed(config, name);
  return configAt(config, origin ? { origin, named: true } : { origin: config.origin, named: false });
}

export function configForMcpPath(c: Context<AppEnv>): Config {
  return configForMcpCall(c.env, c.req.param("origin"));
}

/** The caller as this origin sees it: behind any origin but the default, rate limits and sealed values carry its name. */
export function behindOrigin(principal: Principal, config: Config): Principal {
  return config.origin.isDefault ? principal : { ...principal, origin: config.origin.name };
}
