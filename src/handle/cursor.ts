import { SignJWT, jwtVerify } from "jose";
import type { KeyRing } from "./keyring.js";
import { HANDLE_ALGORITHMS } from "./claims.js";
import { keyRingKeyGetter } from "./resolve.js";

/**
 * Origin pagination cursors can be origin task ids (the SDK's are), so they never reach clients
 * as-is: each is sealed into a short-lived JWS bound to the principal that listed.
 */
const CURSOR_TYP = "mcp-task-cursor+jwt";
const CURSOR_LIFETIME_SECONDS = 3600;

export interface CursorOwner {
  tenant: string;
  clientId: string;
  subject: string;
}

export async function sealCursor(originCursor: string, owner: CursorOwner, keyRing: KeyRing, issuer: string): Promise<string> {
  return new SignJWT({ c: originCursor, tenant: owner.tenant, client_id: owner.clientId })
    .setProtectedHeader({ alg: keyRing.signing.alg, kid: keyRing.signing.kid, typ: CURSOR_TYP })
    .setIssuer(issuer)
    .setAudience(issuer)
    .setSubject(owner.subject)
    .setIssuedAt()
    .setExpirationTime(`${CURSOR_LIFETIME_SECONDS}s`)
    .sign(keyRing.signing.key);
}

/** The origin cursor inside a sealed cursor, or undefined if it is not ours, expired, or someone else's. */
export async function openCursor(sealed: string, owner: CursorOwner, keyRing: KeyRing, issuer: string): Promise<string | undefined> {
  try {
    const { payload } = await jwtVerify(sealed, keyRingKeyGetter(keyRing), {
      algorithms: [...HANDLE_ALGORITHMS],
      typ: CURSOR_TYP,
      issuer,
      audience: issuer,
      subject: owner.subject,
    });
    if (payload.tenant !== owner.tenant || payload.client_id !== owner.clientId || typeof payload.c !== "string") return undefined;
    return payload.c;
  } catch {
    return undefined;
  }
}
