import { Hono } from "hono";
import { configFor, type Config } from "./config.js";
import type { AppEnv } from "./gateway/mcp-endpoint.js";
import { configForMcpCall, unknownOriginResponse } from "./gateway/mcp-path.js";
import { signingKeyRing } from "./handle/signing-keys.js";
import { devIssuerUrl } from "./auth/dev-issuer.js";
import { DPOP_ALGORITHMS } from "./auth/dpop.js";

/** Public metadata: the JWKS (handles, origin assertions) and RFC 9728 protected-resource metadata (with DPoP algorithms). */
export const wellKnownRoutes = new Hono<AppEnv>()
  .get("/jwks.json", async (c) => {
    const pending = signingKeyRing(configFor(c.env));
    if (!pending) return c.json({ error: "signing_unavailable", message: "no handle keys configured" }, 503);
    const ring = await pending;
    return c.json(ring.publicJwks, 200, { "cache-control": "public, max-age=300" });
  })
  // RFC 9728 §3.1: each origin path's document at its path-suffixed address; /mcp and the bare one are the default origin's.
  .get("/oauth-protected-resource/mcp/:origin", (c) => {
    const name = c.req.param("origin");
    return unknownOriginResponse(c.env, name) ?? c.json(protectedResourceMetadata(configForMcpCall(c.env, name)));
  })
  .get("/oauth-protected-resource/*", (c) => c.json(protectedResourceMetadata(configFor(c.env))))
  .get("/oauth-protected-resource", (c) => c.json(protectedResourceMetadata(configFor(c.env))));

function protectedResourceMetadata(config: Config) {
  const servers = [...config.oauth.issuers];
  if (config.devMode) servers.push(devIssuerUrl(config.issuer));
  return {
    resource: config.resource,
    authorization_servers: servers,
    bearer_methods_supported: ["header"],
    resource_name: "taskward",
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    dpop_bound_access_tokens_required: config.dpop.boundTokensRequired,
  };
}
