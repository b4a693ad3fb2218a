/**
 * Fixed-window counters per key, stored in the Durable Object's SQLite (`rate_windows`): the
 * object is the single writer for its tenant, so counts are exact, and they survive eviction
 * and restarts (an in-memory count would reset to "allow" whenever the object is evicted).
 * `countInMemory`: a window is written when it opens and at its limit, counted in memory between.
 */
export class RateLimiter {
  // countInMemory: this instance's windows, ahead of storage below the limit; null: none stored.
  private readonly windows = new Map<string, { window_start: number; count: number } | null>();

  constructor(
    private readonly sql: SqlStorage,
    /** Which limit this is ("creation", "refusal"): one table holds them all. */
    private readonly kind: string,
    private readonly windowMs = 60_000,
    private readonly countInMemory = false,
  ) {}

  /** Seconds until `key` may act again, or 0 if it is under `limit` in the current window. */
  retryAfter(key: string, limit: number, now = Date.now()): number {
    const window = this.current(key, now);
    return window && window.count >= limit ? Math.max(1, Math.ceil((window.window_start + this.windowMs - now) / 1000)) : 0;
  }

  /** Counts one action of `key` (under `limit`); returns the start of the window it was counted in (to release it). */
  record(key: string, now = Date.now(), limit = Number.POSITIVE_INFINITY): number {
    const window = this.current(key, now);
    if (window) {
      window.count += 1;
      if (!this.countInMemory || window.count === limit) this.sql.exec(`UPDATE rate_windows SET count = ? WHERE kind = ? AND key = ?`, window.count, this.kind, key);
      return window.window_start;
    }
    this.sql.exec(
      `INSERT INTO rate_windows (kind, key, window_start, count) VALUES (?, ?, ?, 1)
       ON CONFLICT (kind, key) DO UPDATE SET window_start = excluded.window_start, count = 1`,
      this.kind, key, now,
    );
    if (this.countInMemory) this.windows.set(key, { window_start: now, count: 1 });
    return now;
  }

  /** Gives back one action counted in the window starting at `windowStart` (nothing if that window is over). */
  release(key: string, windowStart: number): void {
    this.sql.exec(`UPDATE rate_windows SET count = MAX(count - 1, 0) WHERE kind = ? AND key = ? AND window_start = ?`, this.kind, key, windowStart);
  }

  /** Deletes windows that are over (they would be reset on next use anyway). */
  prune(now = Date.now()): void {
    this.sql.exec(`DELETE FROM rate_windows WHERE kind = ? AND window_start <= ?`, this.kind, now - this.windowMs);
    for (const [key, window] of this.windows) if (window === null || now - window.window_start >= this.windowMs) this.windows.delete(key);
  }

  private current(key: string, now: number): { window_start: number; count: number } | undefined {
    const known = this.windows.get(key);
    // This object is the only writer: once read, its memory knows the key's window (or that there is none).
    if (known === null) return undefined;
    if (known && now - known.window_start < this.windowMs) return known;
    if (known) return undefined;
    const row = this.sql.exec<{ window_start: number; count: number }>(`SELECT window_start, count FROM rate_windows WHERE kind = ? AND key = ?`, this.kind, key).toArray()[0];
    const open = row && now - row.window_start < this.windowMs ? { window_start: row.window_start, count: row.count } : undefined;
    if (this.countInMemory) this.windows.set(key, open ?? null);
    return open;
  }
}
