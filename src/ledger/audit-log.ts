import { eventHash, genesisHash, type AuditEvent, type AuditEventType } from "./audit-chain.js";

export interface AuditInput {
  type: AuditEventType;
  jti?: string | null;
  op?: string | null;
  principal?: { clientId: string; subject: string } | null;
  reason?: string | null;
  detail?: unknown;
}

type AuditRow = AuditEvent & Record<string, SqlStorageValue>;

/** A row of `audit_spans` (stored fold windows of earlier releases): what its count event will say, and its count. */
type SpanRow = Pick<AuditEvent, "jti" | "op" | "client_id" | "subject" | "reason" | "detail"> & {
  key: string;
  window_end: number;
  first_seq: number;
  pending: number;
  pending_at: number | null;
  last_at: number | null;
  type: string;
} & Record<string, SqlStorageValue>;

/** Where the retained chain starts after pruning: the hash the first kept event links to. */
export interface AuditAnchor {
  seq: number;
  prevHash: string;
}

/** Length of a fold window: repeats of one decision within it are counts, not rows. */
const SPAN_WINDOW_MS = 60_000;
/** Unwritten repeats are written at most this long after the last decision: before an idle object may hibernate (10 s). */
export const IDLE_FLUSH_MS = 5_000;
/** Unwritten repeats are written at most this long after the first of them, however busy the object stays. */
export const BUSY_FLUSH_MS = 60_000;
/** Repeats counted in memory (all spans) at which the decision reaching it writes them. */
export const MAX_UNWRITTEN_REPEATS = 1_000;

/** One decision's span: its first event is in the chain; its repeats since the last write are counted here. */
interface OpenSpan {
  windowEnd: number;
  firstSeq: number;
  /** Allowed decisions: their count may be added to the first event while it is the unsealed head. */
  foldsIntoHead: boolean;
  pending: number;
  pendingAt: number;
  lastAt: number;
  /** What the count event says: the newest repeat's handle, operation and detail. */
  latest: AuditInput;
}

/**
 * The append-only, hash-chained audit table of one tenant. Every method is synchronous:
 * read-previous-hash → write-event with no await in between, in the caller's transaction (the
 * writes of `fold`, which callers make outside one, in `atomically`).
 */
export class AuditLog {
  private readonly spans = new Map<string, OpenSpan>();
  private unwritten = 0;
  /** When the oldest unwritten repeat and the newest decision of any span were counted. */
  private firstUnwrittenAt = 0;
  private lastDecisionAt = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly tenant: () => string,
    /** Called after every write to the chain (inside the write's transaction), e.g. to ship it. */
    private readonly onWrite: () => void,
    // Runs the writes of `fold` in a transaction (a repeat writes nothing and opens none).
    private readonly atomically: <T>(write: () => T) => T,
  ) {}

  /** Appends one event, after the counted repeats (a new event is a change). */
  append(input: AuditInput): number {
    this.flush();
    return this.write(input);
  }

  /** An allowed decision, folded into its span: principal, handle, operation and policy version (see `fold`). */
  appendAllowed(jti: string, op: string, principal: { tenant: string; clientId: string; subject: string }, policyVersion: string, txn?: string): boolean {
    const key = ["allowed", op, jti, principal.tenant, principal.clientId, principal.subject, policyVersion].join("\u0000");
    return this.fold(key, { type: "allowed", jti, op, principal, detail: { policy: policyVersion, ...(txn === undefined ? {} : { txn }) } }, Date.now(), true);
  }

  /** The first decision of span `key` is an event, a repeat a count in memory; true: first unwritten repeat (arm the alarm). */
  fold(key: string, input: AuditInput, now = Date.now(), foldsIntoHead = false): boolean {
    this.lastDecisionAt = now;
    const span = this.spans.get(key);
    if (span && (span.windowEnd > now || (span.foldsIntoHead && this.isOpenHead(span.firstSeq)))) {
      if (span.pending === 0) span.pendingAt = now;
      span.pending += 1;
      span.lastAt = now;
      span.latest = input;
      if (this.unwritten === 0) this.firstUnwrittenAt = now;
      this.unwritten += 1;
      if (this.unwritten >= MAX_UNWRITTEN_REPEATS) this.atomically(() => this.flush(now));
      return this.unwritten === 1;
    }
    const seq = this.atomically(() => this.append(input));
    this.spans.set(key, { windowEnd: now + SPAN_WINDOW_MS, firstSeq: seq, foldsIntoHead, pending: 0, pendingAt: now, lastAt: now, latest: input });
    return false;
  }

  /**
   * When the counted repeats are due (undefined: none are): IDLE_FLUSH_MS after the last decision, so an
   * idle object writes them before it may hibernate, but no later than BUSY_FLUSH_MS after the first.
   */
  flushDueAt(): number | undefined {
    if (this.unwritten === 0) return undefined;
    return Math.min(this.lastDecisionAt + IDLE_FLUSH_MS, this.firstUnwrittenAt + BUSY_FLUSH_MS);
  }

  /** Writes the counted repeats if they are due at `now`; a busy object's alarm writes nothing and re-arms. */
  flushIfDue(now = Date.now()): boolean {
    const due = this.flushDueAt();
    if (due === undefined || due > now) return false;
    this.flush(now);
    return true;
  }

  /** Writes the counted repeats: onto an allowed span's first event if it is the unsealed head, else as counted events. */
  flush(now = Date.now()): void {
    if (this.unwritten > 0) {
      const pending = [...this.spans.values()].filter((span) => span.pending > 0);
      const head = this.head();
      const atHead = head && head.seq > this.sealedSeq() ? pending.find((span) => span.foldsIntoHead && span.firstSeq === head.seq) : undefined;
      if (head && atHead) {
        const headDetail = head.detail ? (JSON.parse(head.detail) as Record<string, unknown>) : {};
        const txn = (atHead.latest.detail as { txn?: string } | undefined)?.txn;
        const detail = txn === undefined ? head.detail : JSON.stringify({ ...headDetail, last_txn: txn });
        const { hash: _previous, ...extended } = { ...head, count: head.count + atHead.pending, last_at: atHead.lastAt, detail };
        this.sql.exec(`UPDATE audit SET count = ?, last_at = ?, detail = ?, hash = ? WHERE seq = ?`, extended.count, extended.last_at, extended.detail, eventHash(extended), head.seq);
        this.onWrite();
      }
      for (const span of pending) {
        if (span === atHead) continue;
        const detail = { ...(span.latest.detail === undefined || span.latest.detail === null ? {} : (span.latest.detail as object)), span: span.firstSeq };
        this.write({ ...span.latest, detail }, { count: span.pending, at: span.pendingAt, lastAt: span.lastAt });
      }
      for (const span of pending) span.pending = 0;
      this.unwritten = 0;
    }
    let headSeq: number | undefined;
    for (const [key, span] of this.spans) {
      if (span.windowEnd > now) continue;
      // An allowed span still at the head keeps folding after its window (as one event per poll run).
      if (span.foldsIntoHead && span.firstSeq === (headSeq ??= this.headSeq() ?? 0)) continue;
      this.spans.delete(key);
    }
  }

  /** Writes counts earlier releases stored in `audit_spans` into the chain, and empties it. */
  drainStoredSpans(): void {
    const spans = this.sql.exec<SpanRow>(`SELECT * FROM audit_spans ORDER BY window_end`).toArray();
    if (spans.length === 0) return;
    this.flush();
    for (const span of spans) {
      if (span.pending === 0) continue;
      const detail = { ...(span.detail ? (JSON.parse(span.detail) as object) : {}), span: span.first_seq };
      this.write(
        { type: span.type as AuditEventType, jti: span.jti, op: span.op, principal: span.client_id === null ? null : { clientId: span.client_id, subject: span.subject ?? "" }, reason: span.reason, detail },
        { count: span.pending, at: span.pending_at ?? Date.now(), lastAt: span.last_at ?? Date.now() },
      );
    }
    this.sql.exec(`DELETE FROM audit_spans`);
  }

  // One event at the head of the chain; `span`: the count, first and last time of a counted event.
  private write(input: AuditInput, span?: { count: number; at: number; lastAt: number }): number {
    const head = this.head();
    const now = Date.now();
    const event: Omit<AuditEvent, "hash"> = {
      seq: (head?.seq ?? this.anchor()?.seq ?? 0) + 1,
      at: span?.at ?? now,
      last_at: span?.lastAt ?? now,
      count: span?.count ?? 1,
      type: input.type,
      jti: input.jti ?? null,
      op: input.op ?? null,
      client_id: input.principal?.clientId ?? null,
      subject: input.principal?.subject ?? null,
      reason: input.reason ?? null,
      detail: input.detail === undefined || input.detail === null ? null : typeof input.detail === "string" ? input.detail : JSON.stringify(input.detail),
      prev_hash: head?.hash ?? this.anchor()?.prevHash ?? genesisHash(this.tenant()),
    };
    const hash = eventHash(event);
    this.sql.exec(
      `INSERT INTO audit (seq, at, last_at, count, type, jti, op, client_id, subject, reason, detail, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      event.seq, event.at, event.last_at, event.count, event.type, event.jti, event.op, event.client_id, event.subject,
      event.reason, event.detail, event.prev_hash, hash,
    );
    this.onWrite();
    return event.seq;
  }

  events(afterSeq: number, limit: number): AuditEvent[] {
    return this.sql.exec<AuditRow>(`SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit).toArray();
  }

  /** Every event in seq order, with the anchor it starts from (for verification). */
  chain(): { events: AuditEvent[]; anchor: AuditAnchor | null } {
    return { events: this.sql.exec<AuditRow>(`SELECT * FROM audit ORDER BY seq`).toArray(), anchor: this.anchor() };
  }

  /** The chain head a checkpoint signs, sealed so it is never folded into again; genesis for an empty chain. */
  sealHead(): { seq: number; hash: string } {
    const head = this.head();
    const anchor = this.anchor();
    const tip = head ? { seq: head.seq, hash: head.hash } : anchor ? { seq: anchor.seq, hash: anchor.prevHash } : { seq: 0, hash: genesisHash(this.tenant()) };
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_sealed_seq', ?)`, String(tip.seq));
    return tip;
  }

  /** The newest event older than `before` that pruning would drop (never the head), with its hash. */
  prunePoint(before: number): { seq: number; hash: string } | undefined {
    const doomed = this.sql.exec<{ seq: number | null }>(`SELECT MAX(seq) AS seq FROM audit WHERE at < ? AND last_at < ?`, before, before).one().seq;
    const head = this.head();
    if (doomed === null || !head || head.seq === doomed) return undefined; // never prune the head: the chain must keep a tip
    const row = this.sql.exec<{ seq: number; hash: string }>(`SELECT seq, hash FROM audit WHERE seq = ?`, doomed).toArray()[0];
    return row ? { seq: row.seq, hash: row.hash } : undefined;
  }

  /** Deletes events up to `point` (from `prunePoint`) and records the anchor, so the rest still verifies. */
  prune(point: { seq: number; hash: string }): number {
    const next = this.sql.exec<{ prev_hash: string }>(`SELECT prev_hash FROM audit WHERE seq = ?`, point.seq + 1).toArray()[0];
    if (!next || next.prev_hash !== point.hash) return 0;
    const removed = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit WHERE seq <= ?`, point.seq).one().n;
    this.sql.exec(`DELETE FROM audit WHERE seq <= ?`, point.seq);
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_anchor', ?)`, JSON.stringify({ seq: point.seq, prevHash: next.prev_hash }));
    return removed;
  }

  anchor(): AuditAnchor | null {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'audit_anchor'`).toArray()[0];
    return row ? (JSON.parse(row.value) as AuditAnchor) : null;
  }

  head(): AuditRow | undefined {
    return this.sql.exec<AuditRow>(`SELECT * FROM audit ORDER BY seq DESC LIMIT 1`).toArray()[0];
  }

  // Whether `seq` is the chain head and no checkpoint sealed it (a count may still be added to it). Asked by
  // every repeat of an allowed span past its window, so it reads the head's seq only, not the whole row.
  private isOpenHead(seq: number): boolean {
    return this.headSeq() === seq && seq > this.sealedSeq();
  }

  private headSeq(): number | undefined {
    return this.sql.exec<{ seq: number }>(`SELECT seq FROM audit ORDER BY seq DESC LIMIT 1`).toArray()[0]?.seq;
  }

  private sealedSeq(): number {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'audit_sealed_seq'`).toArray()[0];
    return row ? Number(row.value) : 0;
  }
}
