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
