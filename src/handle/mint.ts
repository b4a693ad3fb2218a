import { SignJWT, base64url } from "jose";
import { HANDLE_TYP, type HandleGrant, type TaskHandleClaims } from "./claims.js";
import type { KeyRing } from "./keyring.js";

/** 128 bits of randomness, base64url: the handle's `jti` and revocation key. */
export function newJti(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
}

export interface MintContext {
  keyRing: KeyRing;
  issuer: string;
  audience: string;
  now?: () => number;
}

/** Signs a task handle with the key ring's active key; returns the token and its claims. */
export async function mintHandle(grant: HandleGrant, context: MintContext): Promise<{ token: string; claims: TaskHandleClaims }> {
  const iat = Math.floor((context.now?.() ?? Date.now()) / 1000);
  const claims: TaskHandleClaims = {
    ...grant,
    iss: context.issuer,
    aud: context.audience,
    iat,
    jti: grant.jti ?? newJti(),
  };
  const { signing } = context.keyRing;
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: HANDLE_TYP })
    .sign(signing.key);
  return { token, claims };
}
