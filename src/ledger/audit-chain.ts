import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/** The event types of the audit trail. */
export type AuditEventType = "issued" | "allowed" | "denied" | "revoked" | "terminal" | "expired" | "delegated" | "withheld" | "cancel";

export interface AuditEvent {
  seq: number;
  at: number;
  /** For a folded span of identical allowed polls: the time of the last one. */
  last_at: number;
  /** How many identical decisions this event stands for (1 unless folded). */
  count: number;
  type: AuditEventType;
  jti: string | null;
  op: string | null;
  client_id: string | null;
  subject: string | null;
  reason: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

/** The chain's first `prev_hash`: binds the chain to its tenant so chains cannot be swapped. */
export function genesisHash(tenant: string): string {
  return bytesToHex(sha256(utf8ToBytes(`taskward-audit-v1:${tenant}`)));
}

/**
 * SHA-256 over the previous hash and every field of the event, in a fixed order. Synchronous
 * (noble) so read-previous-hash → write-event happens with no await in between.
 */
export function eventHash(event: Omit<AuditEvent, "hash">): string {
  const canonical = JSON.stringify([
    event.prev_hash, event.seq, event.at, event.last_at, event.count, event.type,
    event.jti, event.op, event.client_id, event.subject, event.reason, event.detail,
  ]);
  return bytesToHex(sha256(utf8ToBytes(canonical)));
}

export interface ChainVerification {
  valid: boolean;
  events: number;
  /** The first event whose hash or link does not match, when invalid. */
  brokenAt?: number;
  problem?: string;
}

/** Re-computes the chain over events in seq order; any altered, removed or reordered event breaks it. */
export function verifyChain(tenant: string, events: Iterable<AuditEvent>, startPrevHash = genesisHash(tenant), startAfterSeq = 0): ChainVerification {
  let prev = startPrevHash;
  let lastSeq = startAfterSeq;
  let count = 0;
  for (const event of events) {
    count++;
    if (event.seq !== lastSeq + 1) {
      return { valid: false, events: count, brokenAt: event.seq, problem: `sequence gap after ${lastSeq}` };
    }
    if (event.prev_hash !== prev) return { valid: false, events: count, brokenAt: event.seq, problem: "prev_hash does not link" };
    const { hash, ...rest } = event;
    if (eventHash(rest) !== hash) return { valid: false, events: count, brokenAt: event.seq, problem: "hash does not match contents" };
    prev = hash;
    lastSeq = event.seq;
  }
  return { valid: true, events: count };
}
