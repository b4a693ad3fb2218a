import { eventHash, genesisHash, verifyChain, type AuditEvent, type AuditEventType, type ChainVerification } from "./audit-chain.js";

export interface AuditInput {
  type: AuditEventType;
  jti?: string | null;
  op?: string | null;
  principal?: { clientId: string; subject: string } | null;
  reason?: string | null;
  detail?: unknown;
}

type AuditRow = AuditEvent & Record<string, SqlStorageValue>;

/** Where the retained chain starts after pruning: the hash the first kept event links to. */
export interface AuditAnchor {
  seq: number;
  prevHash: string;
}

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

  append(input: AuditInput): void {
    const head = this.head();
    const now = Date.now();
    const event: Omit<AuditEvent, "hash"> = {
      seq: (head?.seq ?? this.anchor()?.seq ?? 0) + 1,
      at: now,
      last_at: now,
      count: 1,
      type: input.type,
      jti: input.jti ?? null,
      op: input.op ?? null,
      client_id: input.principal?.clientId ?? null,
      subject: input.principal?.subject ?? null,
      reason: input.reason ?? null,
      detail: input.detail === undefined ? null : JSON.stringify(input.detail),
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
   * A repeated allowed `get` by the same principal on the same handle extends the newest event's
   * span (count, last_at) instead of adding a row: storage grows with what happened, not with
   * how often a client polled. Only the chain head is ever rewritten, and its hash is recomputed.
   */
  appendAllowed(jti: string, op: string, principal: { clientId: string; subject: string }): void {
    if (op === "get") {
      const head = this.head();
      if (head && head.type === "allowed" && head.jti === jti && head.op === op && head.client_id === principal.clientId && head.subject === principal.subject) {
        const { hash: _previous, ...extended } = { ...head, count: head.count + 1, last_at: Date.now() };
        this.sql.exec(`UPDATE audit SET count = ?, last_at = ?, hash = ? WHERE seq = ?`, extended.count, extended.last_at, eventHash(extended), head.seq);
        this.onWrite();
        return;
      }
    }
    this.append({ type: "allowed", jti, op, principal });
  }

  events(afterSeq: number, limit: number): AuditEvent[] {
    return this.sql.exec<AuditRow>(`SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit).toArray();
  }

  verify(): ChainVerification & { anchor: AuditAnchor | null } {
    const anchor = this.anchor();
    const rows = this.sql.exec<AuditRow>(`SELECT * FROM audit ORDER BY seq`);
    const result = verifyChain(this.tenant(), rows, anchor?.prevHash, anchor ? anchor.seq : 0);
    return { ...result, anchor };
  }

  /** Deletes events older than `before` and records the new anchor, so the rest still verifies. */
  prune(before: number): number {
    const doomed = this.sql.exec<{ seq: number }>(`SELECT MAX(seq) AS seq FROM audit WHERE at < ? AND last_at < ?`, before, before).one().seq;
    if (doomed === null) return 0;
    const head = this.head();
    if (!head || head.seq === doomed) return 0; // never prune the head: the chain must keep a tip
    const next = this.sql.exec<{ seq: number; prev_hash: string }>(`SELECT seq, prev_hash FROM audit WHERE seq = ?`, doomed + 1).toArray()[0];
    if (!next) return 0;
    const removed = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit WHERE seq <= ?`, doomed).one().n;
    this.sql.exec(`DELETE FROM audit WHERE seq <= ?`, doomed);
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_anchor', ?)`, JSON.stringify({ seq: doomed, prevHash: next.prev_hash }));
    return removed;
  }

  anchor(): AuditAnchor | null {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'audit_anchor'`).toArray()[0];
    return row ? (JSON.parse(row.value) as AuditAnchor) : null;
  }

  private head(): AuditRow | undefined {
    return this.sql.exec<AuditRow>(`SELECT * FROM audit ORDER BY seq DESC LIMIT 1`).toArray()[0];
  }
}
