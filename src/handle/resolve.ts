import type { HandleAlgorithm } from "./claims.js";
import type { HandleKeyResolver } from "./verify.js";
import type { KeyRing } from "./keyring.js";
import { TaskHandleError } from "./errors.js";

/** Resolves verification keys from a key ring: the kid must be listed and its alg must match. */
export function keyRingResolver(keyRing: KeyRing): HandleKeyResolver {
  return (kid, alg) => {
    const entry = keyRing.verifying.get(kid);
    if (!entry) throw new TaskHandleError("ERR_HANDLE_KID_UNKNOWN", `kid ${kid} is not a known handle key`);
    if (entry.alg !== alg) throw new TaskHandleError("ERR_HANDLE_ALG_NOT_ALLOWED", `kid ${kid} is for ${entry.alg}, not ${alg}`);
    return entry.key;
  };
}

/** The same lookup as a jose key getter, for the authority's other JWTs (dev tokens, sealed cursors). */
export function keyRingKeyGetter(keyRing: KeyRing): (header: { kid?: string; alg?: string }) => ReturnType<HandleKeyResolver> {
  const resolve = keyRingResolver(keyRing);
  return (header) => resolve(header.kid ?? "", header.alg as HandleAlgorithm);
}
