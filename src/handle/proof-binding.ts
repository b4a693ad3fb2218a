import type { Principal } from "../auth/principal.js";
import type { DenialReason } from "../ledger/types.js";
import type { TaskHandleClaims } from "./claims.js";

/**
 * A handle minted with `cnf.jkt` opens only for a caller that proved possession of that key in
 * this very request (RFC 9449 §6.1 confirmation). Returns the refusal reason, or undefined.
 */
export function proofBindingDenial(claims: TaskHandleClaims, principal: Principal): Extract<DenialReason, "dpop_proof_missing" | "dpop_key_mismatch"> | undefined {
  const bound = claims.cnf?.jkt;
  if (bound === undefined) return undefined;
  if (principal.jkt === undefined) return "dpop_proof_missing";
  return principal.jkt === bound ? undefined : "dpop_key_mismatch";
}
