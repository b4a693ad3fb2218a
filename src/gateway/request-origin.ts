import type { MiddlewareHandler } from "hono";
import { configFor, type Config } from "../config.js";
import { Refusal } from "../errors.js";
import { refusalResponse, type AppEnv } from "./mcp-endpoint.js";

const LOOPBACK_HOSTNAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTNAMES.has(hostname.toLowerCase());
}

function originAllowed(origin: string, config: Config, issuerIsLoopback: boolean): boolean {
  if (config.allowedOrigins.includes(origin)) return true;
  try {
    return issuerIsLoopback && isLoopback(new URL(origin).hostname);
  } catch {
    return false;
  }
}

/**
 * DNS-rebinding defence (MCP Streamable HTTP: servers MUST validate Origin). A browser page on
 * another site must not reach /mcp: an `Origin` outside ALLOWED_ORIGINS (default: the issuer's
 * own origin) is refused with 403, and an authority serving on loopback also refuses a
 * non-loopback `Host`. Requests without `Origin` (non-browser clients) pass to authentication.
 */
export const rejectForeignOrigins: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = configFor(c.env);
  const issuerIsLoopback = isLoopback(new URL(config.issuer).hostname);
  const origin = c.req.header("origin");
  const host = new URL(c.req.url).hostname;
  if ((origin !== undefined && !originAllowed(origin, config, issuerIsLoopback)) || (issuerIsLoopback && !isLoopback(host))) {
    return refusalResponse(new Refusal("forbidden_origin", `origin ${origin ?? "-"} host ${host}`), null, config);
  }
  await next();
};
