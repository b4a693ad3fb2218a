/** Who is calling: the identity every task handle is bound to. */
export interface Principal {
  tenant: string;
  clientId: string;
  subject: string;
  /** Seconds since epoch the caller last authenticated (OAuth `auth_time` only); undefined: step-up always fails. */
  authTime: number | undefined;
  scopes: string[];
  via: "oauth" | "dev" | "api_key";
  /** When the credential stops being valid (seconds since epoch), for signed tokens. */
  expiresAt?: number;
  /** The origin the request is for, when it is not the default one: rate limits and sealed values are kept apart per origin. */
  origin?: string;
  /** SHA-256 of the origin session this request belongs to (2025-11-25), once its sealed id is opened. */
  session?: string;
  /** The key the access token is bound to (`cnf.jkt`, RFC 9449 §6): a proof by that key is required. */
  boundJkt?: string;
  /** The JWK thumbprint of the key whose DPoP proof this request carried (RFC 9449). */
  jkt?: string;
  /** That proof's replay key and when it stops being acceptable (ms): the ledger records it once. */
  proof?: { key: string; expiresAt: number };
}

/** Identifier characters allowed in tenant, client and subject values. */
const IDENTIFIER = /^[A-Za-z0-9._:@|+\-]{1,200}$/;

export function isIdentifier(value: unknown): value is string {
  return typeof value === "string" && IDENTIFIER.test(value);
}

/** `cnf.jkt` of a DPoP-bound access token (RFC 9449 §6.1); a `cnf` without a usable jkt binds to nothing and is refused. */
export function boundKeyOf(payload: Record<string, unknown>): { boundJkt?: string } {
  if (payload.cnf === undefined) return {};
  const jkt = typeof payload.cnf === "object" && payload.cnf !== null ? (payload.cnf as { jkt?: unknown }).jkt : undefined;
  if (typeof jkt !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(jkt)) throw new Error("token cnf has no SHA-256 jkt");
  return { boundJkt: jkt };
}
