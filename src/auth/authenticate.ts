import { callerTokenAudiences } from "../origins/index.js";
import type { Config, WorkerEnv } from "../config.js";
import { looksLikeApiKey, verifyApiKey } from "./api-keys.js";
import { VerificationCache } from "../verification-cache.js";
import { Refusal } from "../errors.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { verifyDevToken } from "./dev-issuer.js";
import { verifyOAuthToken } from "./oauth.js";
import { isIdentifier, type Principal } from "./principal.js";

/** A verified caller token is trusted for this long at most (or until its `exp`, if sooner). */
const TOKEN_CACHE_MS = 60_000;
/** Per config: what a token proves depends on which verifiers the configuration turns on. */
const verifiedTokensByConfig = new WeakMap<Config, VerificationCache<Principal>>();

function verifiedTokensFor(config: Config): VerificationCache<Principal> {
  let cache = verifiedTokensByConfig.get(config);
  if (!cache) {
    cache = new VerificationCache<Principal>();
    verifiedTokensByConfig.set(config, cache);
  }
  return cache;
}

/** Reads `Authorization: Bearer …` (or `DPoP …`, RFC 9449 §7.1) and returns the caller's principal, or throws a 401 Refusal. */
export async function authenticate(authorization: string | undefined, config: Config, env: WorkerEnv): Promise<Principal> {
  if (!authorization) throw new Refusal("missing_credentials");
  const match = /^(?:Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/.exec(authorization);
  if (!match?.[1]) throw new Refusal("invalid_credentials", "Authorization is not a Bearer token");
  const token = match[1];
  const verifiedTokens = verifiedTokensFor(config);
  const cached = verifiedTokens.get(token);
  if (cached) return cached;
  const reasons: string[] = [];
  let principal: Principal | undefined;
  if (looksLikeApiKey(token)) {
    principal = await verifyApiKey(token, config, env);
    if (!principal) throw new Refusal("invalid_credentials", "unknown or revoked API key");
  }
  if (!principal && config.oauth.servers.length > 0) {
    principal = await verifyOAuthToken(token, config).catch((error: Error) => void reasons.push(`oauth: ${error.message}`));
  }
  if (!principal && config.devMode) {
    const keyRing = await signingKeyRing(config);
    if (keyRing) {
      principal = await verifyDevToken(token, keyRing, config.issuer, callerTokenAudiences(config)).catch((error: Error) => void reasons.push(`dev: ${error.message}`));
    }
  }
  if (!principal) throw new Refusal("invalid_credentials", reasons.join("; ") || "no verifier accepts this token");
  if (!isIdentifier(principal.tenant) || !isIdentifier(principal.clientId) || !isIdentifier(principal.subject)) {
    throw new Refusal("invalid_credentials", "tenant, client or subject claim is not a valid identifier");
  }
  // API keys can be revoked at any moment, so only signed tokens are remembered.
  if (principal.via !== "api_key" && principal.expiresAt !== undefined) {
    verifiedTokens.set(token, principal, Math.min(principal.expiresAt * 1000, Date.now() + TOKEN_CACHE_MS));
  }
  return principal;
}

/** The RFC 9728 challenge sent with every 401 from the MCP endpoint. */
export function bearerChallenge(config: Config, error?: "invalid_token"): string {
  // Each resource has its own metadata document (RFC 9728 §3.1); /mcp keeps the bare one.
  const path = new URL(config.resource).pathname;
  const metadata = `${config.issuer}/.well-known/oauth-protected-resource${path === "/mcp" ? "" : path}`;
  return error ? `Bearer error="${error}", resource_metadata="${metadata}"` : `Bearer resource_metadata="${metadata}"`;
}
