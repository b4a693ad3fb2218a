/** Issue 11, finding 1: repeats within a window are counted, then written as one event when the window ends. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";

const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;

describe("refusal spans", () => {
  it("arms the alarm, and the alarm writes a closed window's repeats as one counted event", async () => {
    const tenant = `t-span-${crypto.randomUUID().slice(0, 8)}`;
    const who = { tenant, clientId: "c", subject: "s" };
    const stub = namespace.get(ledgerIdFor(namespace, tenant));
    for (let i = 0; i < 10; i++) await stub.recordRefusal(tenant, who, "handle_invalid", { code: `ERR_${i}` });
    const before = await runInDurableObject(stub, async (_instance, state) => ({
      alarm: await state.storage.getAlarm(),
      rows: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit`).one().n,
      pending: state.storage.sql.exec<{ pending: number }>(`SELECT pending FROM audit_spans`).one().pending,
    }));
    expect(before).toMatchObject({ alarm: expect.any(Number), rows: 1, pending: 9 });
    // The window ends (moved into the past rather than waiting a minute).
    await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec(`UPDATE audit_spans SET window_end = ?`, Date.now() - 1));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const { events } = await stub.auditEvents(tenant, 0, 100);
    const denials = events.filter((e) => e.type === "denied");
    expect(denials.map((e) => [e.reason, e.count])).toEqual([
      ["handle_invalid", 1],
      ["handle_invalid", 9],
    ]);
    expect(JSON.parse(denials[1]!.detail!)).toEqual({ code: "ERR_9", span: denials[0]!.seq });
    const spans = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_spans`).one().n);
    expect(spans).toBe(0);
    expect(await stub.verifyAudit(tenant)).toMatchObject({ valid: true });
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
