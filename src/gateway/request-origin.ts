import type { MiddlewareHandler } from "hono";
import { configFor, isLoopbackHostname, type Config, type WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import { refusalResponse, type AppEnv } from "./mcp-endpoint.js";

function originAllowed(origin: string, config: Config): boolean {
  if (config.allowedOrigins.includes(origin)) return true;
  try {
    return config.loopbackIssuer && isLoopbackHostname(new URL(origin).hostname);
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
function foreignOriginRefusal(request: Request, env: WorkerEnv): Response | undefined {
  const config = configFor(env);
  const origin = request.headers.get("origin") ?? undefined;
  const foreignOrigin = origin !== undefined && !originAllowed(origin, config);
  const foreignHost = config.loopbackIssuer && !isLoopbackHostname(new URL(request.url).hostname);
  if (foreignOrigin || foreignHost) {
    return refusalResponse(new Refusal("forbidden_origin", `origin ${origin ?? "-"} url ${request.url}`), null, config);
  }
  return undefined;
}

export const rejectForeignOrigins: MiddlewareHandler<AppEnv> = async (c, next) => {
  const refused = foreignOriginRefusal(c.req.raw, c.env);
  if (refused) return refused;
  await next();
};
