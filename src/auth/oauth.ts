import { callerTokenAudiences } from "../origins/index.js";
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose";
import type { Config, OAuthServer } from "../config.js";
import { boundKeyOf, type Principal } from "./principal.js";

/** How long an authorization server's JWKS (and discovered metadata) is trusted before it is fetched again. */
export const JWKS_CACHE_MS = 60_000;

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** One key set per configured JWKS URL: bounded by the configuration, not by what callers send. */
const keySets = new Map<string, KeySet>();
const discovered = new Map<string, { jwksUri: Promise<string>; until: number }>();

function keySetFor(url: string): KeySet {
  let keySet = keySets.get(url);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: JWKS_CACHE_MS });
    keySets.set(url, keySet);
  }
  return keySet;
}

/** RFC 8414 §3: the metadata URL inserts the well-known segment before the issuer's path. */
function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const response = await fetch(metadataUrl(issuer), { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`authorization server metadata of ${issuer}: HTTP ${response.status}`);
  const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
  if (metadata.issuer !== issuer) throw new Error(`authorization server metadata names issuer ${String(metadata.issuer)}, not ${issuer}`);
  if (typeof metadata.jwks_uri !== "string") throw new Error(`authorization server metadata of ${issuer} has no jwks_uri`);
  return new URL(metadata.jwks_uri).href;
}

function jwksUriOf(server: OAuthServer): Promise<string> {
  if (server.jwksUri) return Promise.resolve(server.jwksUri);
  const now = Date.now();
  const cached = discovered.get(server.issuer);
  if (cached && cached.until > now) return cached.jwksUri;
  const jwksUri = discoverJwksUri(server.issuer);
  discovered.set(server.issuer, { jwksUri, until: now + JWKS_CACHE_MS });
  jwksUri.catch(() => discovered.delete(server.issuer));
  return jwksUri;
}

function claimString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Verifies a JWT from one of the configured authorization servers for `audience` (callers: the
 * MCP resource; operators: the admin API): each issuer is checked with its own JWKS. Returns the
 * payload and the server that issued it.
 */
export async function verifyOAuthJwt(token: string, config: Config, audience: string | string[]): Promise<JWTPayload & { server: OAuthServer }> {
  if (config.oauth.servers.length === 0) throw new Error("OAuth is not configured");
  let claimedIssuer: string | undefined;
  try {
    claimedIssuer = decodeJwt(token).iss;
  } catch {
    throw new Error("not a JWT");
  }
  const server = config.oauth.servers.find((s) => s.issuer === claimedIssuer);
  if (!server) throw new Error(`issuer ${String(claimedIssuer)} is not a configured authorization server`);
  const { payload } = await jwtVerify(token, keySetFor(await jwksUriOf(server)), {
    issuer: server.issuer,
    audience,
    algorithms: ["RS256", "PS256", "ES256", "EdDSA"],
    requiredClaims: ["exp", "iat"],
    ...(config.oauth.requireAtJwt ? { typ: "at+jwt" } : {}),
  });
  return { ...payload, server };
}

/**
 * Verifies an OAuth access token (RFC 9068 JWT) of a caller: the issuer may only assert the
 * tenants it is allowed to, and `auth_time` is the only source of the authentication time
 * (absent: step-up fails).
 */
export async function verifyOAuthToken(token: string, config: Config): Promise<Principal> {
  const { server, ...payload } = await verifyOAuthJwt(token, config, callerTokenAudiences(config));
  const names = config.oauth.claims;
  const tenant = claimString(payload, names.tenant);
  const clientId = claimString(payload, names.clientId) ?? claimString(payload, "azp");
  const subject = claimString(payload, names.subject);
  if (!tenant || !clientId || !subject) throw new Error("token lacks tenant, client or subject claim");
  if (server.tenants && !server.tenants.includes(tenant)) throw new Error(`issuer ${server.issuer} may not assert tenant ${tenant}`);
  const scope = claimString(payload, "scope");
  return {
    tenant,
    clientId,
    subject,
    authTime: typeof payload.auth_time === "number" ? payload.auth_time : undefined,
    scopes: scope ? scope.split(" ") : [],
    via: "oauth",
    expiresAt: payload.exp,
    ...boundKeyOf(payload),
  };
}
