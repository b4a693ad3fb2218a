/** Issue 11, finding 1 (issue 14: counted in memory): repeats within a window are counted, then written as one event. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";

const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;

describe("refusal spans", () => {
  it("counts repeats in memory (no row, no stored counter), arms the alarm, and the alarm writes them as one counted event", async () => {
    const tenant = `t-span-${crypto.randomUUID().slice(0, 8)}`;
    const who = { tenant, clientId: "c", subject: "s" };
    const stub = namespace.get(ledgerIdFor(namespace, tenant));
    for (let i = 0; i < 10; i++) await stub.recordRefusal(tenant, who, "handle_invalid", { code: `ERR_${i}` });
    const before = await runInDurableObject(stub, async (_instance, state) => ({
      alarm: await state.storage.getAlarm(),
      rows: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit`).one().n,
      stored: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_spans`).one().n,
    }));
    expect(before).toMatchObject({ alarm: expect.any(Number), rows: 1, stored: 0 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const rows = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit`).one().n);
    expect(rows).toBe(2);
    const { events } = await stub.auditEvents(tenant, 0, 100);
    const denials = events.filter((e) => e.type === "denied");
    expect(denials.map((e) => [e.reason, e.count])).toEqual([
      ["handle_invalid", 1],
      ["handle_invalid", 9],
    ]);
    expect(JSON.parse(denials[1]!.detail!)).toEqual({ code: "ERR_9", span: denials[0]!.seq });
    expect(await stub.verifyAudit(tenant)).toMatchObject({ valid: true });
  });

  it("counts an object wrote to audit_spans before the upgrade are written into the chain and the table emptied", async () => {
    const tenant = `t-legacy-${crypto.randomUUID().slice(0, 8)}`;
    const who = { tenant, clientId: "c", subject: "s" };
    const stub = namespace.get(ledgerIdFor(namespace, tenant));
    await stub.recordRefusal(tenant, who, "handle_invalid", { code: "ERR_0" });
    // What the previous release left: a stored open span with 4 repeats not yet written.
    await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec(
        `INSERT INTO audit_spans (key, window_end, first_seq, pending, pending_at, last_at, type, jti, op, client_id, subject, reason, detail) VALUES ('legacy', ?, 1, 4, ?, ?, 'denied', NULL, NULL, 'c', 's', 'handle_invalid', '{"code":"ERR_4"}')`,
        Date.now() + 30_000, Date.now(), Date.now(),
      ),
    );
    const { events } = await stub.auditEvents(tenant, 0, 100);
    expect(events.map((e) => [e.reason, e.count, e.detail])).toEqual([
      ["handle_invalid", 1, '{"code":"ERR_0"}'],
      ["handle_invalid", 4, '{"code":"ERR_4","span":1}'],
    ]);
    const stored = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_spans`).one().n);
    expect(stored).toBe(0);
    expect(await stub.verifyAudit(tenant)).toMatchObject({ valid: true, events: 2 });
  });
});

describe("step-up without auth_time", () => {
  it("a caller whose token carries no auth_time never passes step-up", async () => {
    const tenant = `t-stepup-${crypto.randomUUID().slice(0, 8)}`;
    const stub = namespace.get(ledgerIdFor(namespace, tenant));
    const now = Date.now();
    const owner = { tenant, clientId: "c", subject: "s" };
    await stub.issue(tenant, {
      jti: "j1", taskId: "o1", handle: "h1", originHandle: "oh1", principal: owner, tool: "long_job", ops: ["get", "result", "cancel"], mcp: "2025-11-25",
      bind: ["tenant", "client", "subject"], maxAuthAgeSeconds: 300, stepUpOps: ["result"], status: "working", issuedAt: now, expiresAt: now + 60_000,
    });
    expect(await stub.authorize(tenant, "j1", "result", { ...owner, authTime: undefined })).toEqual({ allowed: false, reason: "step_up_required", maxAuthAgeSeconds: 300 });
    expect(await stub.authorize(tenant, "j1", "result", { ...owner, authTime: Math.floor(now / 1000) })).toMatchObject({ allowed: true });
  });
});
