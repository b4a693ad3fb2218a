import type { TaskHandleClaims } from "./claims.js";
import type { KeyRing } from "./keyring.js";
import { keyRingResolver } from "./resolve.js";
import { verifyHandle } from "./verify.js";
import { VerificationCache } from "../verification-cache.js";

/** One cache per key ring: replacing the keys (rotation, retirement) starts from nothing. */
const cachesByKeyRing = new WeakMap<KeyRing, VerificationCache<TaskHandleClaims>>();

/**
 * `verifyHandle` against the edge's own key ring, remembering a verified handle's claims until
 * its `exp`. A handle that fails is never cached, so every failure is re-checked (and audited).
 */
export async function verifyOwnHandle(token: string, keyRing: KeyRing, issuer: string, audience: string): Promise<TaskHandleClaims> {
  let cache = cachesByKeyRing.get(keyRing);
  if (!cache) {
    cache = new VerificationCache<TaskHandleClaims>();
    cachesByKeyRing.set(keyRing, cache);
  }
  const key = `${issuer}\u0000${audience}\u0000${token}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const claims = await verifyHandle(token, { issuer, audience, resolveKey: keyRingResolver(keyRing) });
  cache.set(key, claims, claims.exp * 1000);
  return claims;
}
