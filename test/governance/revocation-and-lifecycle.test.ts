import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor, ledgerIdFor } from "../../src/ledger/ledger-client.js";
import { McpSession, adminFetch, decodeClaims, originReceived, type Identity } from "../support/mcp-client.js";

/** The Durable Object stub itself, for alarms and storage inspection. */
function rawLedger(tenant: string) {
  const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;
  return namespace.get(ledgerIdFor(namespace, tenant));
}

const NOT_FOUND = { code: -32602, message: "Task not found" };

async function revoke(body: Record<string, unknown>) {
  const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function taskFor(identity: Identity) {
  const session = await McpSession.open(identity);
  const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
  return { session, handle };
}

describe("bulk revocation through watermarks", () => {
  it("revoking a subject voids its handles only, and new handles work again", async () => {
    const tenant = "bulk-sub";
    const a = await taskFor({ tenant, client_id: "c", sub: "alice" });
    const b = await taskFor({ tenant, client_id: "c", sub: "bob" });
    expect((await revoke({ tenant, sub: "alice" })).status).toBe(200);
    expect((await a.session.request("tasks/get", { taskId: a.handle })).reply?.error).toEqual(NOT_FOUND);
    expect((await b.session.request("tasks/get", { taskId: b.handle })).reply?.result.taskId).toBe(b.handle);
    const fresh = await a.session.createTask("slow_echo", { text: "after", delayMs: 10 });
    expect((await a.session.request("tasks/get", { taskId: fresh.handle })).reply?.result.taskId).toBe(fresh.handle);
  });

  it("revoking a client voids every subject's handles of that client", async () => {
    const tenant = "bulk-client";
    const a = await taskFor({ tenant, client_id: "leaky", sub: "alice" });
    const b = await taskFor({ tenant, client_id: "leaky", sub: "bob" });
    const c = await taskFor({ tenant, client_id: "fine", sub: "carol" });
    expect((await revoke({ tenant, client_id: "leaky", reason: "client secret leaked" })).status).toBe(200);
    expect((await a.session.request("tasks/get", { taskId: a.handle })).reply?.error).toEqual(NOT_FOUND);
    expect((await b.session.request("tasks/get", { taskId: b.handle })).reply?.error).toEqual(NOT_FOUND);
    expect((await c.session.request("tasks/get", { taskId: c.handle })).reply?.result.taskId).toBe(c.handle);
  });

  it("revoking a tenant is one write however many handles it has, and is audited", async () => {
    const tenant = "bulk-tenant";
    const tasks = await Promise.all(["u1", "u2", "u3"].map((sub) => taskFor({ tenant, client_id: "c", sub })));
    const { body } = await revoke({ tenant, scope: "tenant", reason: "incident 42" });
    expect(body).toMatchObject({ tenant, scope: "tenant" });
    for (const { session, handle } of tasks) expect((await session.request("tasks/get", { taskId: handle })).reply?.error).toEqual(NOT_FOUND);
    // No follow-up of these tasks reached the origin (each handle is unique; the log is shared).
    const handles = new Set(tasks.map((t) => t.handle));
    expect((await originReceived()).filter((m) => handles.has(m.handle ?? ""))).toEqual([]);
    const ledger = ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant);
    const { events } = await ledger.auditEvents(tenant);
    expect(events.filter((e) => e.type === "revoked")).toHaveLength(1);
    expect(events.filter((e) => e.type === "denied").map((e) => e.reason)).toEqual(["revoked_by_watermark", "revoked_by_watermark", "revoked_by_watermark"]);
  });

  it("refuses a tenant path segment that is not an identifier, on every tenant route", async () => {
    for (const path of ["/tenants/bad%20tenant/tasks", "/tenants/bad%20tenant/audit", "/tenants/bad%20tenant/audit/verify", "/tenants/bad%20tenant/tasks/j1"]) {
      const response = await adminFetch(path);
      expect(response.status, path).toBe(400);
      expect(await response.json(), path).toEqual({ error: "invalid_request", message: "tenant is not an identifier" });
    }
  });

  it("explains a bad revocation body", async () => {
    const { status, body } = await revoke({ tenant: "x", scope: "planet" });
    expect(status).toBe(400);
    expect(body.message).toContain("{tenant, scope:\"tenant\"}");
  });
});

describe("lifecycle", () => {
  it("revokes a handle automatically a grace period after its result was delivered", async () => {
    const tenant = "life";
    const { session, handle } = await taskFor({ tenant, client_id: "c", sub: "s" });
    await session.waitForStatus(handle, ["completed"]);
    expect((await session.request("tasks/result", { taskId: handle })).reply?.result.content[0].text).toContain("x");
    const ledger = ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant);
    const { jti } = decodeClaims(handle);
    await expect.poll(async () => (await ledger.task(tenant, jti))?.deliveredAt, { timeout: 3000 }).toBeTypeOf("number");
    const deliveredAt = (await ledger.task(tenant, jti))!.deliveredAt!;
    const until = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
    // Near the end of the grace (DELIVERY_GRACE_SECONDS=2 in tests) the handle still works...
    await until(deliveredAt + 1_200);
    expect((await session.request("tasks/get", { taskId: handle })).reply?.result.status).toBe("completed");
    // ...and once it has passed, the next call is refused even before the alarm ran (lazy revocation).
    await until(deliveredAt + 2_050);
    expect((await session.request("tasks/get", { taskId: handle })).reply?.error).toEqual(NOT_FOUND);
    expect(await ledger.task(tenant, jti)).toMatchObject({ revokeReason: "delivered" });
    await runDurableObjectAlarm(rawLedger(tenant));
    expect((await session.request("tasks/get", { taskId: handle })).reply?.error).toEqual(NOT_FOUND);
    const types = (await ledger.auditEvents(tenant)).events.map((e) => `${e.type}:${e.reason ?? ""}`);
    expect(types).toEqual(expect.arrayContaining(["terminal:completed", "terminal:delivered", "revoked:delivered", "denied:revoked_after_delivery"]));
    expect(types.filter((t) => t === "revoked:delivered")).toHaveLength(1);
  });
});
