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

interface SpanRow extends Record<string, SqlStorageValue> {
  key: string;
  window_end: number;
  first_seq: number;
  pending: number;
  pending_at: number | null;
  last_at: number | null;
  type: string;
  jti: string | null;
  op: string | null;
  client_id: string | null;
  subject: string | null;
  reason: string | null;
  detail: string | null;
}

/** Where the retained chain starts after pruning: the hash the first kept event links to. */
export interface AuditAnchor {
  seq: number;
  prevHash: string;
}

/** Length of a fold window: repeats of one decision within it become one counted event. */
export const SPAN_WINDOW_MS = 60_000;

/**
 * The append-only, hash-chained audit table of one tenant. Every method is synchronous: the
 * caller's transaction covers read-previous-hash → write-event with no await in between.
 */
export class AuditLog {
  constructor(
    private readonly sql: SqlStorage,
    private readonly tenant: () => string,
    /** Called after every write to the chain (inside the caller's transaction), e.g. to ship it. */
    private readonly onWrite: () => void = () => undefined,
  ) {}

  append(input: AuditInput, span?: { count: number; at: number; lastAt: number }): void {
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
  }

  /**
   * A repeated allowed `get` by the same principal on the same handle, under the same policy,
   * extends the newest event's span (count, last_at) instead of adding a row; the span keeps its
   * first transaction id and records the latest. Any other repeat of one allowed decision (same
   * principal, handle, operation and policy) folds into that decision's window (see `fold`). Only
   * an unsealed chain head is ever rewritten, and its hash is recomputed.
   */
  appendAllowed(jti: string, op: string, principal: { tenant: string; clientId: string; subject: string }, policyVersion: string, txn?: string): boolean {
    const head = op === "get" ? this.head() : undefined;
    const headDetail = head?.detail ? (JSON.parse(head.detail) as { policy?: string }) : {};
    if (head && head.seq > this.sealedSeq() && head.type === "allowed" && head.jti === jti && head.op === op && head.client_id === principal.clientId && head.subject === principal.subject && headDetail.policy === policyVersion) {
      const detail = txn === undefined ? head.detail : JSON.stringify({ ...headDetail, last_txn: txn });
      const { hash: _previous, ...extended } = { ...head, count: head.count + 1, last_at: Date.now(), detail };
      this.sql.exec(`UPDATE audit SET count = ?, last_at = ?, detail = ?, hash = ? WHERE seq = ?`, extended.count, extended.last_at, extended.detail, eventHash(extended), head.seq);
      this.onWrite();
      return false;
    }
    const key = ["allowed", op, jti, principal.tenant, principal.clientId, principal.subject, policyVersion].join("\u0000");
    return this.fold(key, { type: "allowed", jti, op, principal, detail: { policy: policyVersion, ...(txn === undefined ? {} : { txn }) } });
  }

  /**
   * Records `input` as the first event of the span `key` (one principal, one decision), or, when
   * that span's window is still open, only counts it: repeats are written once, as one counted
   * event, when the window closes (`sealSpans`). So a principal adds at most two rows per key and
   * window however often it asks. Returns true when a new window opened (the caller arms the alarm).
   */
  fold(key: string, input: AuditInput, now = Date.now()): boolean {
    const span = this.sql.exec<SpanRow>(`SELECT * FROM audit_spans WHERE key = ?`, key).toArray()[0];
    if (span && span.window_end > now) {
      this.sql.exec(
        `UPDATE audit_spans SET pending = pending + 1, pending_at = COALESCE(pending_at, ?), last_at = ?, jti = ?, op = ?, detail = ? WHERE key = ?`,
        now, now, input.jti ?? null, input.op ?? null, input.detail === undefined ? null : JSON.stringify(input.detail), key,
      );
      return false;
    }
    if (span) this.sealSpan(span);
    this.append(input);
    this.sql.exec(
      `INSERT OR REPLACE INTO audit_spans (key, window_end, first_seq, pending, pending_at, last_at, type, jti, op, client_id, subject, reason, detail)
       VALUES (?, ?, ?, 0, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL)`,
      key, now + SPAN_WINDOW_MS, this.head()!.seq, input.type, input.jti ?? null, input.op ?? null,
      input.principal?.clientId ?? null, input.principal?.subject ?? null, input.reason ?? null,
    );
    return true;
  }

  /**
   * Writes the counted repeats of spans into the chain: of every span when `all` (before an
   * export or a checkpoint, so they are complete), else of the spans whose window is over,
   * which are then forgotten. Returns the earliest window end still open, if any.
   */
  sealSpans(now: number, all: boolean): number | null {
    const spans = this.sql.exec<SpanRow>(all ? `SELECT * FROM audit_spans ORDER BY window_end` : `SELECT * FROM audit_spans WHERE window_end <= ? ORDER BY window_end`, ...(all ? [] : [now])).toArray();
    for (const span of spans) this.sealSpan(span);
    this.sql.exec(`DELETE FROM audit_spans WHERE window_end <= ?`, now);
    return this.sql.exec<{ next: number | null }>(`SELECT MIN(window_end) AS next FROM audit_spans`).one().next;
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

  private sealedSeq(): number {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'audit_sealed_seq'`).toArray()[0];
    return row ? Number(row.value) : 0;
  }

  private sealSpan(span: SpanRow): void {
    if (span.pending === 0) return;
    const detail = { ...(span.detail ? (JSON.parse(span.detail) as object) : {}), span: span.first_seq };
    this.append(
      { type: span.type as AuditEventType, jti: span.jti, op: span.op, principal: span.client_id === null ? null : { clientId: span.client_id, subject: span.subject ?? "" }, reason: span.reason, detail },
      { count: span.pending, at: span.pending_at ?? Date.now(), lastAt: span.last_at ?? Date.now() },
    );
    this.sql.exec(`UPDATE audit_spans SET pending = 0, pending_at = NULL, last_at = NULL WHERE key = ?`, span.key);
  }
}
