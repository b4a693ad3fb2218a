/**
 * Issue 11, finding 4: an unauthenticated caller cannot make taskward create Durable Objects.
 * A forged key must not address any object: listDurableObjectIds (which instantiates nothing)
 * must not list its tenant's. A read path may address an object but must not give it tables:
 * miniflare lists every object that was ever instantiated, so there the object's own SQLite
 * is inspected instead.
 */
import { env } from "cloudflare:workers";
import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerIdFor } from "../../src/ledger/ledger-client.js";
import type { WorkerEnv } from "../../src/config.js";
import { adminFetch, b64url, rawPost, mcpHeaders, tag } from "../adversarial/support.js";

const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;

async function objectExists(tenant: string): Promise<boolean> {
  const wanted = ledgerIdFor(namespace, tenant).toString();
  return (await listDurableObjectIds(namespace)).some((id) => id.toString() === wanted);
}

function randomSecret(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

function hex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("finding 4: forged API keys and read paths create no ledger", () => {
  it("random well-formed twk_ keys (old and MAC'd shape) are refused with 401 and create no object", async () => {
    const tenants: string[] = [];
    for (let i = 0; i < 5; i++) {
      const tenant = tag("t-ghost");
      tenants.push(tenant);
      const keys = [`twk_${b64url(tenant)}.${hex(8)}.${randomSecret()}`, `twk_${b64url(tenant)}.${hex(8)}.${randomSecret()}.${randomSecret()}`];
      for (const key of keys) {
        const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), mcpHeaders(key, tag("s")));
        expect(reply.status).toBe(401);
        expect(reply.body.error.code).toBe(-32001);
      }
    }
    for (const tenant of tenants) expect(await objectExists(tenant)).toBe(false);
  });

  it("a real key still authenticates (and its tenant's ledger exists)", async () => {
    const tenant = tag("t-keyed");
    const created = await adminFetch(`/tenants/${tenant}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "svc", sub: "robot" }) });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const poll = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: "no-such-task" } });
    const reply = await rawPost(poll, mcpHeaders(key, tag("s")));
    expect([reply.status, reply.body.error]).toEqual([200, { code: -32602, message: "Task not found" }]);
    // One character of the MAC changed: refused.
    const tampered = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
    expect((await rawPost(poll, mcpHeaders(tampered, tag("s")))).status).toBe(401);
    expect(await objectExists(tenant)).toBe(true);
  });

  it("admin reads of a tenant that has no ledger answer empty and create none", async () => {
    const tenant = tag("t-unread");
    expect(await (await adminFetch(`/tenants/${tenant}/tasks`)).json()).toEqual({ tasks: [], next_before: null });
    expect((await adminFetch(`/tenants/${tenant}/tasks/some-jti`)).status).toBe(404);
    const audit = await adminFetch(`/tenants/${tenant}/audit`);
    expect([audit.status, await audit.text()]).toEqual([200, ""]);
    expect(await (await adminFetch(`/tenants/${tenant}/audit/verify`)).json()).toMatchObject({ valid: true, events: 0 });
    expect((await adminFetch(`/tenants/${tenant}/audit/checkpoint`)).status).toBe(404);
    const tables = await runInDurableObject(namespace.get(ledgerIdFor(namespace, tenant)), (_instance, state) =>
      state.storage.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray().map((r) => r.name),
    );
    // Workerd's own bookkeeping tables start with _cf_; the ledger's would not.
    expect(tables.filter((name) => !name.startsWith("_cf_"))).toEqual([]);
  });
});
