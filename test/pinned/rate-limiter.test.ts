/**
 * The fixed-window limiter over the ledger's real SQLite (`rate_windows`), driven with explicit
 * clock values: window edges to the millisecond, the Retry-After it computes, what is written
 * when counts are kept in memory, release and pruning.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/ledger/rate-limiter.js";
import type { TaskLedger } from "../../src/ledger/task-ledger.js";
import { freshTenant, issueRecord, ledgerOf } from "./ledger-support.js";

const WINDOW = 60_000;
const T0 = 1_700_000_000_000;

/** Runs `body` with the SQLite of a fresh tenant's ledger (its schema created by one issuance). */
async function withLedgerSql<T>(body: (sql: SqlStorage) => T): Promise<T> {
  const tenant = freshTenant("limiter");
  const ledger = ledgerOf(tenant);
  await ledger.issue(tenant, issueRecord(tenant, "j1"));
  return runInDurableObject(ledger as unknown as DurableObjectStub<TaskLedger>, (_instance, state) => body(state.storage.sql));
}

const stored = (sql: SqlStorage, kind: string, key: string) =>
  sql.exec<{ window_start: number; count: number }>(`SELECT window_start, count FROM rate_windows WHERE kind = ? AND key = ?`, kind, key).toArray()[0];

describe("RateLimiter", () => {
  it("a window is open until its last millisecond and over at windowMs; Retry-After counts the seconds left, at least 1", async () => {
    const result = await withLedgerSql((sql) => {
      const limiter = new RateLimiter(sql, "edge-test"); // the default window: one minute
      limiter.record("k", T0);
      const startOfSecond = limiter.record("k", T0 + 10);
      return {
        startOfSecond,
        atStart: limiter.retryAfter("k", 2, T0 + 10),
        secondsRoundedUp: limiter.retryAfter("k", 2, T0 + 999),
        lastMs: limiter.retryAfter("k", 2, T0 + WINDOW - 1),
        over: limiter.retryAfter("k", 2, T0 + WINDOW),
        underLimit: limiter.retryAfter("k", 3, T0 + 10),
        startOfNext: limiter.record("k", T0 + WINDOW),
      };
    });
    expect(result).toEqual({ startOfSecond: T0, atStart: 60, secondsRoundedUp: 60, lastMs: 1, over: 0, underLimit: 0, startOfNext: T0 + WINDOW });
  });

  it("counting in memory writes a window when it opens and when it reaches the limit, and a new instance reads what was written", async () => {
    const result = await withLedgerSql((sql) => {
      const limiter = new RateLimiter(sql, "memory-test", WINDOW, true);
      limiter.record("k", T0, 5);
      limiter.record("k", T0 + 1, 5);
      const twoOfThree = limiter.retryAfter("k", 3, T0 + 1);
      limiter.record("k", T0 + 2, 5);
      const belowLimit = stored(sql, "memory-test", "k");
      // Pruning keeps a live window's count in memory; only what is over goes.
      limiter.prune(T0 + 2);
      const inMemory = limiter.retryAfter("k", 3, T0 + 3);
      limiter.record("k", T0 + 3, 5);
      limiter.record("k", T0 + 4, 5);
      const atLimit = stored(sql, "memory-test", "k");
      const restarted = new RateLimiter(sql, "memory-test", WINDOW, true).retryAfter("k", 5, T0 + 5);
      const overAtWindowEnd = limiter.retryAfter("k", 5, T0 + WINDOW);
      limiter.retryAfter("never-counted", 1, T0 + 5); // remembered as "no window"
      const remembered = (limiter as unknown as { windows: Map<string, unknown> }).windows.size;
      limiter.prune(T0 + WINDOW);
      const rememberedAfterPrune = (limiter as unknown as { windows: Map<string, unknown> }).windows.size;
      return { twoOfThree, belowLimit, inMemory, atLimit, restarted, overAtWindowEnd, remembered, rememberedAfterPrune };
    });
    expect(result).toEqual({ twoOfThree: 0, belowLimit: { window_start: T0, count: 1 }, inMemory: 60, atLimit: { window_start: T0, count: 5 }, restarted: 60, overAtWindowEnd: 0, remembered: 2, rememberedAfterPrune: 0 });
  });

  it("without memory every action is written; release gives one back in its own window only; prune drops windows that are over", async () => {
    const result = await withLedgerSql((sql) => {
      const limiter = new RateLimiter(sql, "stored-test", WINDOW);
      const start = limiter.record("k", T0);
      limiter.record("k", T0 + 1);
      const afterTwo = stored(sql, "stored-test", "k")?.count;
      limiter.release("k", start - 1);
      const afterForeignRelease = stored(sql, "stored-test", "k")?.count;
      limiter.release("k", start);
      const afterRelease = stored(sql, "stored-test", "k")?.count;
      limiter.prune(T0 + WINDOW - 1);
      const keptBeforeEnd = stored(sql, "stored-test", "k") !== undefined;
      limiter.prune(T0 + WINDOW);
      const prunedAtEnd = stored(sql, "stored-test", "k") === undefined;
      return { afterTwo, afterForeignRelease, afterRelease, keptBeforeEnd, prunedAtEnd };
    });
    expect(result).toEqual({ afterTwo: 2, afterForeignRelease: 2, afterRelease: 1, keptBeforeEnd: true, prunedAtEnd: true });
  });
});
