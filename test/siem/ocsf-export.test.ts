import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { McpSession, adminFetch, decodeClaims } from "../support/mcp-client.js";
import { devOperatorId, operatorToken } from "../operators/support.js";

type Ocsf = Record<string, any>;

/** The shape docs/siem.md documents: base attributes every event has, and each class's own. */
const BASE_KEYS = ["class_uid", "class_name", "category_uid", "category_name", "activity_id", "activity_name", "type_uid", "type_name", "time", "severity_id", "severity", "status_id", "status", "metadata", "unmapped"];
const CLASS_KEYS: Record<number, string[]> = {
  3003: ["user", "privileges", "session"],
  3004: ["entity"],
  6003: ["actor", "api", "src_endpoint", "resources"],
};
const CATEGORY: Record<number, number> = { 3003: 3, 3004: 3, 6003: 6 };

function checkShape(event: Ocsf, tenant: string): void {
  for (const key of [...BASE_KEYS, ...CLASS_KEYS[event.class_uid]!]) expect(event, `${event.metadata?.event_code} lacks ${key}`).toHaveProperty(key);
  expect(event.category_uid).toBe(CATEGORY[event.class_uid]);
  expect(event.type_uid).toBe(event.class_uid * 100 + event.activity_id);
  expect(event.type_name).toBe(`${event.class_name}: ${event.activity_name}`);
  expect([1, 2]).toContain(event.status_id);
  expect(event.status).toBe(event.status_id === 1 ? "Success" : "Failure");
  expect(event.metadata).toMatchObject({ version: "1.3.0", product: { name: "taskward", vendor_name: "taskward" }, tenant_uid: tenant, log_name: "taskward-audit" });
  expect(event.metadata.uid).toBe(`${tenant}:${event.metadata.sequence}`);
  expect(Number.isInteger(event.time)).toBe(true);
}

async function auditLines(tenant: string, format?: string): Promise<Ocsf[]> {
  const response = await adminFetch(`/tenants/${tenant}/audit${format ? `?format=${format}` : ""}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
  return (await response.text()).split("\n").filter(Boolean).map((line) => JSON.parse(line) as Ocsf);
}

describe("OCSF export (GET /admin/tenants/:tenant/audit?format=ocsf)", () => {
  it("maps every kind of audit event to its documented class, activity and fields, one per chain event", async () => {
    const tenant = "siem-ocsf";
    const operator = await operatorToken("siem-op", ["taskward:revoke", "taskward:cancel", "taskward:api-keys", "taskward:delegate", "taskward:audit"], [tenant]);
    const alice = await McpSession.open({ tenant, client_id: "cli", sub: "alice" });
    const quick = await alice.createTask("slow_echo", { text: "x", delayMs: 10 });
    await alice.waitForStatus(quick.handle, ["completed"]);
    for (let i = 0; i < 3; i++) await alice.request("tasks/get", { taskId: quick.handle }); // folded into a counted span
    const mallory = await McpSession.open({ tenant, client_id: "cli", sub: "mallory" });
    await mallory.request("tasks/get", { taskId: quick.handle }); // denied: another principal's handle
    const long = await alice.createTask("long_job", { seconds: 30 });
    expect((await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle: quick.handle, to: { client_id: "cli", sub: "bob" } }) }, operator)).status).toBe(201);
    const key = (await (await adminFetch(`/tenants/${tenant}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "bot", sub: "bot" }) }, operator)).json()) as { id: string };
    expect((await adminFetch(`/tenants/${tenant}/api-keys/${key.id}`, { method: "DELETE" }, operator)).status).toBe(200);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: long.handle, cancel: true, reason: "incident 9" }) }, operator)).status).toBe(200);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, sub: "mallory" }) }, operator)).status).toBe(200);

    const chain = await auditLines(tenant);
    const ocsf = await auditLines(tenant, "ocsf");
    expect(ocsf).toHaveLength(chain.length);
    ocsf.forEach((event, i) => {
      checkShape(event, tenant);
      // Lossless: every chain field rides along, so the SIEM copy matches the verified chain.
      expect(event.unmapped).toEqual({ seq: chain[i]!.seq, prev_hash: chain[i]!.prev_hash, hash: chain[i]!.hash, detail: chain[i]!.detail, last_at: chain[i]!.last_at });
      expect(event.time).toBe(chain[i]!.at);
      expect(event.metadata.event_code).toBe(chain[i]!.type);
    });
    const of = (code: string, match: (e: Ocsf) => boolean = () => true) => ocsf.filter((e) => e.metadata.event_code === code && match(e));
    const quickJti = decodeClaims(quick.handle).jti;
    const longJti = decodeClaims(long.handle).jti;
    const opId = devOperatorId("siem-op");

    expect(of("issued", (e) => e.session?.uid === quickJti)[0]).toMatchObject({
      class_uid: 3003, activity_id: 1, activity_name: "Assign Privileges", type_uid: 300301, severity_id: 1,
      user: { uid: "alice" }, privileges: ["get", "result", "cancel"], session: { uid: quickJti, issuer: "cli" }, message: "task handle for slow_echo",
    });
    expect(of("delegated")[0]).toMatchObject({ class_uid: 3003, user: { uid: "bob" }, actor: { user: { uid: opId, type: "User" } } });
    const folded = of("allowed", (e) => e.count > 1)[0]!;
    expect(folded).toMatchObject({ class_uid: 6003, activity_id: 2, activity_name: "Read", api: { operation: "get", service: { name: "taskward" } }, actor: { user: { uid: "alice" }, app_name: "cli" }, src_endpoint: { name: "cli" }, resources: [{ uid: quickJti, type: "mcp-task-handle" }] });
    expect(folded.end_time).toBeGreaterThanOrEqual(folded.start_time);
    expect(of("denied")[0]).toMatchObject({ class_uid: 6003, status_id: 2, status: "Failure", status_detail: "subject_mismatch", severity_id: 3, actor: { user: { uid: "mallory" } } });
    expect(of("revoked", (e) => e.entity.uid === longJti)[0]).toMatchObject({ class_uid: 3004, activity_id: 9, activity_name: "Disable", type_uid: 300409, comment: "incident 9", entity: { type: "mcp-task-handle" }, actor: { user: { uid: opId } } });
    expect(of("revoked", (e) => e.entity.type === "revocation-scope")[0]).toMatchObject({ entity: { uid: "subject:mallory", name: "mallory" }, actor: { user: { uid: opId } } });
    expect(of("issued", (e) => e.session.uid === key.id)[0]).toMatchObject({ class_uid: 3003, user: { uid: "bot" }, privileges: [], actor: { user: { uid: opId } } });
    expect(of("revoked", (e) => e.entity.type === "api-key")[0]).toMatchObject({ entity: { uid: key.id, name: "bot/bot" } });
    expect(of("cancel")[0]).toMatchObject({ class_uid: 3004, activity_id: 99, activity_name: "Cancel", type_uid: 300499, status_id: 1, comment: "cancelled", entity: { uid: longJti }, entity_result: { data: { status: "cancelled" } }, actor: { user: { uid: opId } } });
    expect(of("terminal", (e) => e.comment === "completed")[0]).toMatchObject({ class_uid: 3004, activity_id: 3, entity: { uid: quickJti } });
  });

  it("answers 400 for an unknown format, and keeps the chain's paging headers", async () => {
    const bad = await adminFetch("/tenants/siem-ocsf/audit?format=cef");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "invalid_request", message: 'format must be "chain" (default) or "ocsf", got "cef"' });
    const paged = await adminFetch("/tenants/siem-ocsf/audit?format=ocsf&limit=2");
    expect(paged.headers.get("audit-next-cursor")).toBe("2");
  });

  it("needs taskward:audit on the tenant", async () => {
    const reader = await operatorToken("reader", ["taskward:read"], ["siem-ocsf"]);
    expect((await adminFetch("/tenants/siem-ocsf/audit?format=ocsf", {}, reader)).status).toBe(403);
    expect((await ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, "siem-ocsf").verifyAudit("siem-ocsf")).valid).toBe(true);
  });
});
