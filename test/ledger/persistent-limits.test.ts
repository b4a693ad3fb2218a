/** Issue 11, findings 3 and 9 (threat model G3): limits are atomic and survive eviction. */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";
import { TaskLedger } from "../../src/ledger/task-ledger.js";

const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;

describe("rate-limit state survives eviction", () => {
  it("a fresh instance over the same storage (what eviction leaves) still refuses a principal over its refusal limit", async () => {
    const tenant = `t-evict-${crypto.randomUUID().slice(0, 8)}`;
    const who = { tenant, clientId: "c", subject: "s" };
    const stub = namespace.get(ledgerIdFor(namespace, tenant));
    let last = { retryAfterSeconds: 0 };
    for (let i = 0; i < 30; i++) last = await stub.recordRefusal(tenant, who, "handle_invalid", { code: "ERR_TEST" });
    expect(last.retryAfterSeconds).toBeGreaterThan(0);
    const afterEviction = await runInDurableObject(stub, (_instance, state) => new TaskLedger(state, env as unknown as WorkerEnv).recordRefusal(tenant, who, "handle_invalid", { code: "ERR_TEST" }));
    expect(afterEviction.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe("creation slots", () => {
  it("reserve is atomic (40 of 70 concurrent reservations), release gives a slot back, and both survive eviction", async () => {
    const tenant = `t-slots-${crypto.randomUUID().slice(0, 8)}`;
    const who = { tenant, clientId: "c", subject: "s" };
    const stub = namespace.get(ledgerIdFor(namespace, tenant));
    const results = await Promise.all(Array.from({ length: 70 }, () => stub.reserveCreation(tenant, who)));
    const granted = results.filter((r) => r.reserved);
    expect(granted).toHaveLength(40);
    expect(results.filter((r) => !r.reserved).every((r) => !r.reserved && r.retryAfterSeconds > 0)).toBe(true);
    const reserveAfterEviction = () => runInDurableObject(stub, (_instance, state) => new TaskLedger(state, env as unknown as WorkerEnv).reserveCreation(tenant, who));
    expect(await reserveAfterEviction()).toMatchObject({ reserved: false });
    const first = granted[0]!;
    if (!first.reserved) throw new Error("unreachable");
    await stub.releaseCreation(tenant, who, first.window);
    expect(await reserveAfterEviction()).toMatchObject({ reserved: true });
    // Another tenant's caller with the same client and subject has its own budget.
    expect(await stub.reserveCreation(tenant, { ...who, tenant: "elsewhere" })).toMatchObject({ reserved: true });
  });
});
