import type { AuditEvent } from "../ledger/audit-chain.js";

/** One queue message: a chain event of one tenant's ledger shard (absent: 0), exactly as the chain holds it. */
export interface AuditShipment {
  tenant: string;
  shard?: number;
  event: AuditEvent;
}

type AuditRow = AuditEvent & Record<string, SqlStorageValue>;

/** Queue sendBatch takes at most 100 messages. */
const BATCH = 100;

/**
 * Pushes a tenant's audit events to a Queue after they commit. The chain stays the source of
 * truth: the shipped position (`meta.siem_shipped` = last seq and its hash) advances only after
 * the queue accepted the batch, so a failed send is retried from the chain (at least once, never
 * lost). A folded head that changed after it was shipped is shipped again with its new hash.
 */
export class AuditShipper {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly queue: Queue<AuditShipment>,
    private readonly tenant: () => string,
    /** The ledger shard whose chain this is: each shard numbers its own events from 1. */
    private readonly shard = 0,
  ) {}

  /** Ships what is not shipped yet; concurrent calls coalesce into one more pass. Rejects when the queue refuses. */
  ship(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.shipPending();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async shipPending(): Promise<void> {
    for (;;) {
      const shipped = this.position();
      const rows = this.sql.exec<AuditRow>(`SELECT * FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?`, shipped.seq, BATCH + 1).toArray();
      const pending = rows.filter((row) => row.seq > shipped.seq || row.hash !== shipped.hash).slice(0, BATCH);
      if (pending.length === 0) return;
      const tenant = this.tenant();
      await this.queue.sendBatch(pending.map((event) => ({ body: { tenant, ...(this.shard > 0 ? { shard: this.shard } : {}), event: { ...event } } })));
      const last = pending.at(-1)!;
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('siem_shipped', ?)`, JSON.stringify({ seq: last.seq, hash: last.hash }));
    }
  }

  private position(): { seq: number; hash: string } {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'siem_shipped'`).toArray()[0];
    return row ? (JSON.parse(row.value) as { seq: number; hash: string }) : { seq: 0, hash: "" };
  }
}
