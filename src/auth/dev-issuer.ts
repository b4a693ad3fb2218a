import { SignJWT, jwtVerify } from "jose";
import type { KeyRing } from "../handle/keyring.js";
import { HANDLE_ALGORITHMS } from "../handle/claims.js";
import { keyRingKeyGetter } from "../handle/resolve.js";
import { boundKeyOf, type Principal } from "./principal.js";

/** Dev tokens are access tokens, never task handles: a distinct `typ` keeps the two apart. */
const DEV_TOKEN_TYP = "at+jwt";
const DEV_TOKEN_LIFETIME_SECONDS = 12 * 3600;

export function devIssuerUrl(issuer: string): string {
  return `${issuer}/dev`;
}

export interface DevTokenRequest {
  tenant: string;
  client_id: string;
  sub: string;
  /** Bind the token to this key thumbprint (`cnf.jkt`, RFC 9449 §6.1): it then works only with DPoP proofs by that key. */
  jkt?: string;
}

/** Signs a development bearer token for `resource`; only reachable when DEV_MODE is on. */
export async function mintDevToken(request: DevTokenRequest, keyRing: KeyRing, issuer: string, resource: string): Promise<{ token: string; expiresIn: number }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ tenant: request.tenant, client_id: request.client_id, auth_time: now, scope: "mcp", ...(request.jkt ? { cnf: { jkt: request.jkt } } : {}) })
    .setProtectedHeader({ alg: keyRing.signing.alg, kid: keyRing.signing.kid, typ: DEV_TOKEN_TYP })
    .setIssuer(devIssuerUrl(issuer))
    .setAudience(resource)
    .setSubject(request.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + DEV_TOKEN_LIFETIME_SECONDS)
    .sign(keyRing.signing.key);
  return { token, expiresIn: DEV_TOKEN_LIFETIME_SECONDS };
}

/** Verifies a dev token; returns undefined when it is not one (so other verifiers may try). */
export async function verifyDevToken(token: string, keyRing: KeyRing, issuer: string, resource: string | string[]): Promise<Principal> {
  const { payload } = await jwtVerify(token, keyRingKeyGetter(keyRing), {
    algorithms: [...HANDLE_ALGORITHMS],
    typ: DEV_TOKEN_TYP,
    issuer: devIssuerUrl(issuer),
    audience: resource,
    requiredClaims: ["sub", "exp", "iat"],
  });
  if (typeof payload.tenant !== "string" || typeof payload.client_id !== "string") throw new Error("dev token lacks tenant or client_id");
  return {
    tenant: payload.tenant,
    clientId: payload.client_id,
    subject: String(payload.sub),
    authTime: typeof payload.auth_time === "number" ? payload.auth_time : (payload.iat ?? 0),
    scopes: typeof payload.scope === "string" ? payload.scope.split(" ") : [],
    via: "dev",
    expiresAt: payload.exp,
    ...boundKeyOf(payload),
  };
}
