/**
 * Signed audit checkpoints: a JWS over one tenant's chain head (seq and hash), signed with the
 * authority's active key and verifiable by anyone with the public JWKS. Pure (jose and the chain
 * module only), so the ledger, the admin API and the offline CLI share one verifier.
 */
import { SignJWT, createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { genesisHash, verifyChain, type AuditEvent, type ChainVerification } from "./audit-chain.js";

export const CHECKPOINT_TYP = "taskward-audit-checkpoint+jwt";

export interface Checkpoint {
  tenant: string;
  seq: number;
  hash: string;
  /** Seconds since epoch it was signed. */
  iat: number;
  /** Why it was taken: "on_demand", "periodic" or "retention". */
  reason: string;
}

export interface CheckpointSigner {
  signing: { kid: string; alg: string; key: CryptoKey };
}

export async function signCheckpoint(point: Omit<Checkpoint, "iat">, signer: CheckpointSigner, issuer: string): Promise<string> {
  return new SignJWT({ tenant: point.tenant, seq: point.seq, hash: point.hash, reason: point.reason })
    .setProtectedHeader({ alg: signer.signing.alg, kid: signer.signing.kid, typ: CHECKPOINT_TYP })
    .setIssuer(issuer)
    .setSubject(`audit:${point.tenant}`)
    .setIssuedAt()
    .sign(signer.signing.key);
}

/** The checkpoint a JWS carries, if it is signed by a key in `jwks` for `tenant`; throws otherwise. */
export async function verifyCheckpoint(jws: string, jwks: JSONWebKeySet, tenant: string): Promise<Checkpoint> {
  const { payload } = await jwtVerify(jws, createLocalJWKSet(jwks), { typ: CHECKPOINT_TYP, algorithms: ["EdDSA", "ES256"], subject: `audit:${tenant}` });
  if (payload.tenant !== tenant || !Number.isInteger(payload.seq) || typeof payload.hash !== "string") throw new Error("checkpoint claims are malformed");
  return { tenant, seq: payload.seq as number, hash: payload.hash, iat: payload.iat ?? 0, reason: String(payload.reason ?? "") };
}

export interface ExportVerification extends ChainVerification {
  /** Signed checkpoints the chain was checked against. */
  checkpoints: number;
}

/**
 * Verifies a chain (possibly pruned: `anchor`) against signed checkpoints. The anchor counts
 * only when a valid checkpoint signs exactly it (seq and hash); every checkpoint at or after
 * the anchor must match the event at its seq. So deleting a prefix and writing a new anchor,
 * or rewriting the chain after a checkpoint was taken, no longer verifies.
 */
export async function verifyAgainstCheckpoints(
  tenant: string,
  events: AuditEvent[],
  anchor: { seq: number; prevHash: string } | null,
  checkpointJws: string[],
  jwks: JSONWebKeySet,
): Promise<ExportVerification> {
  const checkpoints: Checkpoint[] = [];
  for (const jws of checkpointJws) {
    try {
      checkpoints.push(await verifyCheckpoint(jws, jwks, tenant));
    } catch (error) {
      return { valid: false, events: 0, checkpoints: 0, problem: `a checkpoint does not verify: ${(error as Error).message}` };
    }
  }
  if (anchor && !checkpoints.some((c) => c.seq === anchor.seq && c.hash === anchor.prevHash)) {
    return { valid: false, events: 0, checkpoints: checkpoints.length, brokenAt: anchor.seq + 1, problem: "the anchor is not signed by any checkpoint (a prefix may have been removed)" };
  }
  const chain = anchor ? verifyChain(tenant, events, anchor.prevHash, anchor.seq) : verifyChain(tenant, events);
  if (!chain.valid) return { ...chain, checkpoints: checkpoints.length };
  const bySeq = new Map(events.map((e) => [e.seq, e.hash]));
  const start = anchor?.seq ?? 0;
  for (const checkpoint of checkpoints) {
    if (checkpoint.seq < start) continue; // signs an event that retention removed
    const expected = checkpoint.seq === start ? (anchor?.prevHash ?? genesisHash(tenant)) : bySeq.get(checkpoint.seq);
    if (expected === undefined) {
      return { valid: false, events: chain.events, checkpoints: checkpoints.length, brokenAt: checkpoint.seq, problem: `checkpoint at seq ${checkpoint.seq} names an event the chain does not have (events removed)` };
    }
    if (expected !== checkpoint.hash) {
      return { valid: false, events: chain.events, checkpoints: checkpoints.length, brokenAt: checkpoint.seq, problem: `the chain differs from the checkpoint signed at seq ${checkpoint.seq} (rewritten)` };
    }
  }
  return { ...chain, checkpoints: checkpoints.length };
}
