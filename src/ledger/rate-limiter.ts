/**
 * Fixed-window counters per principal, kept in the Durable Object's memory: the object is the
 * single writer for its tenant, so counts are exact while it lives; an eviction resets them,
 * which only ever errs towards allowing (limits are abuse brakes, not quotas).
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly windowMs = 60_000) {}

  /** Seconds until `key` may act again, or 0 if it is under `limit` in the current window. */
  retryAfter(key: string, limit: number, now = Date.now()): number {
    const window = this.current(key, now);
    return window.count >= limit ? Math.ceil((window.start + this.windowMs - now) / 1000) : 0;
  }

  record(key: string, now = Date.now()): void {
    this.current(key, now).count++;
  }

  private current(key: string, now: number): { start: number; count: number } {
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
      if (this.windows.size > 10_000) this.evictStale(now);
    }
    return window;
  }

  private evictStale(now: number): void {
    for (const [key, window] of this.windows) if (now - window.start >= this.windowMs) this.windows.delete(key);
  }
}
