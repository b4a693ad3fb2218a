/** Shared by the pinned ledger tests: a fresh tenant's ledger stub and an issue record. */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { vi } from "vitest";
import type { TaskLedger } from "../../src/ledger/task-ledger.js";
import type { WorkerEnv } from "../../src/config.js";
import type { IssueRecord } from "../../src/ledger/index.js";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";

export const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;

let counter = 0;
/** A tenant no other test uses, so its ledger and audit chain start empty. */
export function freshTenant(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomUUID().slice(0, 8)}`;
}

export function ledgerOf(tenant: string) {
  return namespace.get(ledgerIdFor(namespace, tenant));
}

export type LedgerStub = ReturnType<typeof ledgerOf>;

/**
 * Runs `body` on the live ledger with its clock held by the test: Date.now is the real time until
 * `setNow(ms)` moves it, and is restored afterwards, also when `body` throws.
 */
export function withHeldClock<T>(ledger: LedgerStub, body: (instance: TaskLedger, setNow: (ms: number) => void, state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return runInDurableObject(ledger as unknown as DurableObjectStub<TaskLedger>, async (instance: TaskLedger, state) => {
    const clock = vi.spyOn(Date, "now");
    try {
      return await body(instance, (ms) => clock.mockReturnValue(ms), state);
    } finally {
      clock.mockRestore();
    }
  });
}

/** A fresh tenant's ledger holding one live task `j1`, and alice (client c1), the caller it was issued to. */
export async function ledgerWithOneTask(prefix: string) {
  const tenant = freshTenant(prefix);
  const stub = ledgerOf(tenant);
  await stub.issue(tenant, issueRecord(tenant, "j1"));
  const alice = { tenant, clientId: "c1", subject: "alice" };
  return { tenant, stub, alice };
}

export function issueRecord(tenant: string, jti: string, overrides: Partial<IssueRecord> = {}): IssueRecord {
  const now = Date.now();
  return {
    jti,
    taskId: `origin-${jti}`,
    handle: `handle-${jti}`,
    originHandle: `origin-handle-${jti}`,
    principal: { tenant, clientId: "c1", subject: "alice" },
    tool: "slow_echo",
    ops: ["get", "result", "cancel"],
    mcp: "2025-11-25",
    status: "working",
    issuedAt: now,
    expiresAt: now + 60_000,
    bind: ["tenant", "client", "subject"],
    maxAuthAgeSeconds: undefined,
    stepUpOps: ["result", "cancel"],
    ...overrides,
  };
}
