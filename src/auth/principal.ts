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
}

/** Identifier characters allowed in tenant, client and subject values. */
const IDENTIFIER = /^[A-Za-z0-9._:@|+\-]{1,200}$/;

export function isIdentifier(value: unknown): value is string {
  return typeof value === "string" && IDENTIFIER.test(value);
}
