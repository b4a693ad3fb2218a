import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import type { Config } from "../config.js";
import type { Principal } from "./principal.js";

const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keySetFor(url: string): ReturnType<typeof createRemoteJWKSet> {
  let keySet = remoteKeySets.get(url);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    remoteKeySets.set(url, keySet);
  }
  return keySet;
}

function claimString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === "string" ? value : undefined;
}

/** Verifies a JWT from a configured authorization server for `audience` (callers: the MCP resource; operators: the admin API). */
export async function verifyOAuthJwt(token: string, config: Config, audience: string): Promise<JWTPayload> {
  if (!config.oauth.jwksUrl || config.oauth.issuers.length === 0) throw new Error("OAuth is not configured");
  const { payload } = await jwtVerify(token, keySetFor(config.oauth.jwksUrl), {
    issuer: config.oauth.issuers,
    audience,
    algorithms: ["RS256", "PS256", "ES256", "EdDSA"],
    requiredClaims: ["exp", "iat"],
  });
  return payload;
}

/** Verifies an OAuth access token from a configured authorization server (RFC 9068 style JWT). */
export async function verifyOAuthToken(token: string, config: Config): Promise<Principal> {
  const payload = await verifyOAuthJwt(token, config, config.resource);
  const names = config.oauth.claims;
  const tenant = claimString(payload, names.tenant);
  const clientId = claimString(payload, names.clientId) ?? claimString(payload, "azp");
  const subject = claimString(payload, names.subject);
  if (!tenant || !clientId || !subject) throw new Error("token lacks tenant, client or subject claim");
  const scope = claimString(payload, "scope");
  return {
    tenant,
    clientId,
    subject,
    authTime: typeof payload.auth_time === "number" ? payload.auth_time : (payload.iat ?? 0),
    scopes: scope ? scope.split(" ") : [],
    via: "oauth",
    expiresAt: payload.exp,
  };
}
