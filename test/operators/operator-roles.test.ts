import { callApp } from "../adversarial/fault-support.js";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { McpSession, adminFetch, decodeClaims, devToken, worker } from "../support/mcp-client.js";
import { devOperatorId, operatorToken } from "./support.js";

const NOT_FOUND = { code: -32602, message: "Task not found" };

async function auditOf(tenant: string) {
  return (await ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant).auditEvents(tenant)).events;
}

async function taskIn(tenant: string, sub = "alice") {
  const session = await McpSession.open({ tenant, client_id: "cli", sub });
  const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
  return { session, handle, jti: decodeClaims(handle).jti as string };
}

async function json(response: Response) {
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("operator roles", () => {
  it("each role is refused beyond its grant with a 403 that names the missing role", async () => {
    const tenant = "ops-roles";
    const { jti, handle } = await taskIn(tenant);
    const reader = await operatorToken("reader", ["taskward:read"], [tenant]);
    const auditor = await operatorToken("auditor", ["taskward:audit"], [tenant]);
    const revoker = await operatorToken("revoker", ["taskward:revoke"], [tenant]);

    expect((await adminFetch(`/tenants/${tenant}/tasks`, {}, reader)).status).toBe(200);
    expect(await json(await adminFetch(`/tenants/${tenant}/audit`, {}, reader))).toEqual({
      status: 403,
      body: { error: "operator_role_missing", message: "This operation requires the taskward:audit role" },
    });
    expect(await json(await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti }) }, reader))).toEqual({
      status: 403,
      body: { error: "operator_role_missing", message: "This operation requires the taskward:revoke role" },
    });
    expect((await adminFetch(`/tenants/${tenant}/audit/verify`, {}, auditor)).status).toBe(200);
    expect((await json(await adminFetch(`/tenants/${tenant}/tasks/${jti}`, {}, auditor))).body.error).toBe("operator_role_missing");
    expect((await json(await adminFetch(`/tenants/${tenant}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "m", sub: "m" }) }, revoker))).body).toEqual({
      error: "operator_role_missing",
      message: "This operation requires the taskward:api-keys role",
    });
    expect((await json(await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle, to: { client_id: "c", sub: "s" } }) }, revoker))).body.message).toBe(
      "This operation requires the taskward:delegate role",
    );
    // Revoke without cancel is allowed; cancel needs its own role.
    expect(await json(await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti, cancel: true }) }, revoker))).toEqual({
      status: 403,
      body: { error: "operator_role_missing", message: "This operation requires the taskward:cancel role" },
    });
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti }) }, revoker)).status).toBe(200);
  });

  it("each single-role operator reaches exactly the routes of its role; every other route is a 403 naming the role it needs", async () => {
    const tenant = "ops-matrix";
    const { jti, handle } = await taskIn(tenant);
    const routes: Array<{ role: string; call: (token: string) => Promise<Response> }> = [
      { role: "taskward:read", call: (t) => adminFetch(`/tenants/${tenant}/tasks`, {}, t) },
      { role: "taskward:read", call: (t) => adminFetch(`/tenants/${tenant}/tasks/${jti}`, {}, t) },
      { role: "taskward:read", call: (t) => adminFetch(`/tasks/${jti}?tenant=${tenant}`, {}, t) },
      { role: "taskward:audit", call: (t) => adminFetch(`/tenants/${tenant}/audit`, {}, t) },
      { role: "taskward:audit", call: (t) => adminFetch(`/tenants/${tenant}/audit/verify`, {}, t) },
      { role: "taskward:audit", call: (t) => adminFetch(`/tenants/${tenant}/tasks/${jti}/audit`, {}, t) },
      { role: "taskward:delegate", call: (t) => adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle, to: { client_id: "cli", sub: "bob" } }) }, t) },
      { role: "taskward:api-keys", call: (t) => adminFetch(`/tenants/${tenant}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "m", sub: "m" }) }, t) },
      { role: "taskward:api-keys", call: (t) => adminFetch(`/tenants/${tenant}/api-keys/0000000000000000`, { method: "DELETE" }, t) },
      { role: "taskward:revoke", call: (t) => adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, sub: "nobody" }) }, t) },
    ];
    const roles = ["taskward:read", "taskward:revoke", "taskward:cancel", "taskward:audit", "taskward:delegate", "taskward:api-keys"];
    for (const role of roles) {
      const token = await operatorToken(`only-${role.split(":")[1]}`, [role], [tenant]);
      for (const route of routes) {
        const response = await route.call(token);
        const label = `${role} → route needing ${route.role}`;
        if (route.role === role) expect([200, 201, 404], label).toContain(response.status);
        else expect({ status: response.status, body: await response.json() }, label).toEqual({ status: 403, body: { error: "operator_role_missing", message: `This operation requires the ${route.role} role` } });
      }
    }
  });

  it("an operator is refused beyond its tenants, whatever its roles", async () => {
    const granted = "ops-tenant-a";
    const other = "ops-tenant-b";
    const { jti, handle } = await taskIn(other);
    const operator = await operatorToken("scoped", ["taskward:read", "taskward:revoke", "taskward:audit", "taskward:cancel", "taskward:delegate", "taskward:api-keys"], [granted]);
    const forbidden = { error: "operator_tenant_forbidden", message: `This operator is not granted tenant ${other}` };
    expect(await json(await adminFetch(`/tenants/${other}/tasks`, {}, operator))).toEqual({ status: 403, body: forbidden });
    expect(await json(await adminFetch(`/tasks/${jti}?tenant=${other}`, {}, operator))).toEqual({ status: 403, body: forbidden });
    expect(await json(await adminFetch(`/tenants/${other}/audit`, {}, operator))).toEqual({ status: 403, body: forbidden });
    expect(await json(await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant: other, scope: "tenant" }) }, operator))).toEqual({ status: 403, body: forbidden });
    // A handle names its tenant: the grant is checked against it, not against the request body.
    expect(await json(await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle }) }, operator))).toEqual({ status: 403, body: forbidden });
    expect(await json(await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle, to: { client_id: "c", sub: "s" } }) }, operator))).toEqual({ status: 403, body: forbidden });
    // Nothing was revoked in the other tenant.
    expect((await auditOf(other)).filter((e) => e.type === "revoked")).toEqual([]);
    expect((await adminFetch(`/tenants/${granted}/tasks`, {}, operator)).status).toBe(200);
  });

  it("a token without a tenant grant, or an MCP caller token, or a forged one is not an operator (401)", async () => {
    const callerToken = await devToken({ tenant: "ops-401", client_id: "c", sub: "s" });
    expect((await adminFetch("/tenants/ops-401/tasks", {}, callerToken)).status).toBe(401);
    const operator = await operatorToken("o", ["taskward:read"], "*");
    const [header, payload, signature] = operator.split(".");
    const widened = btoa(JSON.stringify({ ...JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/"))), roles: ["taskward:revoke"] })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const refused = await adminFetch("/tenants/ops-401/tasks", {}, `${header}.${widened}.${signature}`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="taskward-admin"');
    // An operator token is not an MCP caller credential either.
    const session = new McpSession(operator);
    expect((await session.request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "0" } })).status).toBe(401);
  });

  it("the dev issuer refuses malformed operator-token requests with what was wrong", async () => {
    const response = await worker().fetch("https://taskward.test/dev/operator-token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: "x", roles: ["taskward:everything"], tenants: "*" }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain("roles.0");
  });
});

describe("operator tokens with DEV_MODE off", () => {
  it("/dev/operator-token answers 404 and a dev operator token is refused (401); ADMIN_TOKEN still works", async () => {
    const production = { ...(env as unknown as WorkerEnv), DEV_MODE: "false" };
    const call = (request: Request) => callApp(production, request);
    const body = JSON.stringify({ sub: "x", roles: ["taskward:read"], tenants: "*" });
    expect((await call(new Request("https://taskward.test/dev/operator-token", { method: "POST", headers: { "content-type": "application/json" }, body }))).status).toBe(404);
    const devMinted = await operatorToken("dev-only", ["taskward:read"], "*");
    expect((await call(new Request("https://taskward.test/admin/whoami", { headers: { authorization: `Bearer ${devMinted}` } }))).status).toBe(401);
    const glass = await call(new Request("https://taskward.test/admin/whoami", { headers: { authorization: "Bearer test-admin-token" } }));
    expect(JSON.parse(glass.text)).toMatchObject({ id: "break-glass" });
  });
});

describe("operator attribution in the audit trail", () => {
  it("revocations, scope revocations, API-key admin and delegations name the operator; ADMIN_TOKEN is 'break-glass'", async () => {
    const tenant = "ops-attrib";
    const { jti, handle } = await taskIn(tenant);
    const alice = await operatorToken("alice-sre", ["taskward:revoke", "taskward:api-keys", "taskward:delegate"], [tenant]);
    const created = await json(await adminFetch(`/tenants/${tenant}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "bot", sub: "bot" }) }, alice));
    expect(created.status).toBe(201);
    expect((await adminFetch(`/tenants/${tenant}/api-keys/${created.body.id}`, { method: "DELETE" }, alice)).status).toBe(200);
    expect((await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle, to: { client_id: "cli", sub: "bob" } }) }, alice)).status).toBe(201);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti, reason: "incident 7" }) }, alice)).status).toBe(200);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, sub: "mallory" }) })).status).toBe(200);

    const events = await auditOf(tenant);
    const detail = (type: string, match: (d: Record<string, any>) => boolean) =>
      events.filter((e) => e.type === type).map((e) => JSON.parse(e.detail ?? "{}") as Record<string, any>).find(match);
    const id = devOperatorId("alice-sre");
    expect(detail("issued", (d) => d.apiKey === created.body.id)?.actor).toBe(id);
    expect(detail("revoked", (d) => d.apiKey === created.body.id)?.actor).toBe(id);
    expect(detail("delegated", () => true)?.actor).toBe(id);
    const revocation = events.find((e) => e.type === "revoked" && e.jti === jti);
    expect(revocation?.reason).toBe("incident 7");
    expect(JSON.parse(revocation!.detail!).actor).toBe(id);
    expect(detail("revoked", (d) => d.scope === "subject")).toMatchObject({ actor: "break-glass", value: "mallory" });
  });

  it("a refused operator request is written to the target tenant's chain with the operator and the missing grant", async () => {
    const tenant = "ops-refusals";
    const { jti } = await taskIn(tenant);
    const reader = await operatorToken("curious", ["taskward:read"], [tenant]);
    const outsider = await operatorToken("outsider", ["taskward:revoke"], ["elsewhere"]);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti }) }, reader)).status).toBe(403);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti }) }, outsider)).status).toBe(403);
    const denials = (await auditOf(tenant)).filter((e) => e.type === "denied");
    expect(denials.map((e) => ({ op: e.op, reason: e.reason, actor: JSON.parse(e.detail!).actor }))).toEqual([
      { op: "taskward:revoke", reason: "operator_role_missing", actor: devOperatorId("curious") },
      { op: "taskward:revoke", reason: "operator_tenant_forbidden", actor: devOperatorId("outsider") },
    ]);
    expect((await auditOf(tenant)).some((e) => e.type === "revoked")).toBe(false);
    const ocsf = (await (await adminFetch(`/tenants/${tenant}/audit?format=ocsf`)).text()).split("\n").filter(Boolean).map((line) => JSON.parse(line));
    expect(ocsf.find((e) => e.status_detail === "operator_tenant_forbidden")).toMatchObject({
      class_uid: 6003, activity_id: 99, activity_name: "taskward:revoke", status_id: 2, severity_id: 3,
      actor: { user: { uid: devOperatorId("outsider") } }, api: { operation: "taskward:revoke" }, src_endpoint: { name: "admin-api" },
    });
  });

  it("the revoked handle is refused at the next poll", async () => {
    const tenant = "ops-poll";
    const { session, handle, jti } = await taskIn(tenant);
    const operator = await operatorToken("oncall", ["taskward:revoke"], [tenant]);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti }) }, operator)).status).toBe(200);
    expect((await session.request("tasks/get", { taskId: handle })).reply?.error).toEqual(NOT_FOUND);
  });
});
