import { SignJWT } from "jose";
import { inject } from "vitest";
import { loadKeyRing } from "../../src/handle/keyring.js";
import type { Identity } from "./mcp-client.js";

/** A dev-issuer token whose `auth_time` lies `ageSeconds` in the past (for step-up tests). */
export async function devTokenAuthenticatedAgo(identity: Identity, ageSeconds: number): Promise<string> {
  const keyRing = await loadKeyRing(inject("signingJwks"));
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: identity.tenant, client_id: identity.client_id, auth_time: now - ageSeconds, scope: "mcp" })
    .setProtectedHeader({ alg: keyRing.signing.alg, kid: keyRing.signing.kid, typ: "at+jwt" })
    .setIssuer("https://taskward.test/dev")
    .setAudience("https://taskward.test/mcp")
    .setSubject(identity.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(keyRing.signing.key);
}
