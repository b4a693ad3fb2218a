import type { WorkerEnv } from "../config.js";
import { ledgerFor } from "../ledger/ledger-client.js";
import type { Principal } from "./principal.js";
import { invalidProof } from "./proof-of-possession.js";

/**
 * Spends the request's DPoP proof in the caller's tenant ledger, for calls that make no other
 * ledger decision (follow-ups spend it inside `authorize`). A proof seen before is refused.
 */
export async function spendProof(env: WorkerEnv, principal: Principal): Promise<void> {
  if (!principal.proof) return;
  const fresh = await ledgerFor(env.TASK_LEDGER, principal.tenant).spendProof(principal.tenant, principal.proof.key, principal.proof.expiresAt);
  if (!fresh) throw invalidProof("the proof's jti was already used (replay)");
}
