import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from "jose";
import type { KeyRing } from "./keyring.js";

/**
 * Values the authority hands to clients but only it may read (origin session ids, origin
 * pagination cursors, SSE event ids) travel sealed: a compact JWE (`dir`, A256GCM) under a key derived per
 * purpose from the signing key's secret, so a client can neither read nor alter them and a value
 * sealed for one purpose never opens as another.
 */
export type SealPurpose = "session" | "cursor" | "event-id";

/** Longest sealed value accepted; anything longer is refused before it is parsed. */
const MAX_SEALED_LENGTH = 4096;

const derivedKeys = new WeakMap<KeyRing, Map<string, Promise<CryptoKey>>>();

/** HKDF-SHA-256(secret of `kid`, info = purpose) → an AES-256-GCM key, derived once per isolate. */
function sealingKey(keyRing: KeyRing, kid: string, purpose: SealPurpose): Promise<CryptoKey> | undefined {
  const secret = keyRing.sealingSecrets.get(kid);
  if (!secret) return undefined;
  let byRing = derivedKeys.get(keyRing);
  if (!byRing) derivedKeys.set(keyRing, (byRing = new Map()));
  const cacheKey = `${kid}\u0000${purpose}`;
  let key = byRing.get(cacheKey);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", secret, "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("taskward seal v1"), info: new TextEncoder().encode(purpose) },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    byRing.set(cacheKey, key);
  }
  return key;
}

function typFor(purpose: SealPurpose): string {
  return `taskward-${purpose}+jwe`;
}

/** Seals `claims` for `purpose` under the active key; `lifetimeSeconds` adds an `exp`. */
export async function seal(purpose: SealPurpose, claims: Record<string, unknown>, keyRing: KeyRing, lifetimeSeconds?: number): Promise<string> {
  const key = await sealingKey(keyRing, keyRing.activeKid, purpose)!;
  const body = lifetimeSeconds === undefined ? claims : { ...claims, exp: Math.floor(Date.now() / 1000) + lifetimeSeconds };
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: keyRing.activeKid, typ: typFor(purpose) })
    .encrypt(key);
}

/** The claims inside a value sealed for `purpose` by this authority, or undefined (forged, altered, expired, other purpose, retired key). */
export async function unseal(purpose: SealPurpose, sealed: string, keyRing: KeyRing): Promise<Record<string, unknown> | undefined> {
  if (sealed.length > MAX_SEALED_LENGTH) return undefined;
  try {
    const header = decodeProtectedHeader(sealed);
    if (header.typ !== typFor(purpose) || typeof header.kid !== "string") return undefined;
    const key = sealingKey(keyRing, header.kid, purpose);
    if (!key) return undefined;
    const { plaintext } = await compactDecrypt(sealed, await key, { keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] });
    const claims = JSON.parse(new TextDecoder().decode(plaintext)) as unknown;
    if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    if (exp !== undefined && (typeof exp !== "number" || exp * 1000 <= Date.now())) return undefined;
    return claims as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
