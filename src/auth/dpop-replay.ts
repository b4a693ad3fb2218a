import type { WorkerEnv } from "../config.js";
import { shardLedger } from "../ledger/ledger-client.js";
import { shardForKey } from "../ledger/shards.js";
import { configFor } from "../config.js";
import type { Principal } from "./principal.js";
import { invalidProof } from "./proof-of-possession.js";

/**
 * Spends the request's DPoP proof in the caller's tenant ledger — in the shard that keeps its
 * key's proofs (`shardForKey`) — for calls that make no other ledger decision there (follow-ups
 * spend it inside `authorize` when the handle is in that shard). A proof seen before is refused.
 */
export async function spendProof(env: WorkerEnv, principal: Principal): Promise<void> {
  if (!principal.proof || principal.jkt === undefined) return;
  const shard = shardForKey(configFor(env).ledgerShards, principal.tenant, principal.jkt);
  const fresh = await shardLedger(env, principal.tenant, shard).spendProof(principal.tenant, principal.proof.key, principal.proof.expiresAt);
  if (!fresh) throw invalidProof("the proof's jti was already used (replay)");
}
