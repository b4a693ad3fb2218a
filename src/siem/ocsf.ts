import type { AuditEvent, AuditEventType } from "../ledger/audit-chain.js";
import { shardSuffix } from "../ledger/shards.js";

/** The OCSF schema version the mapping targets; docs/siem.md documents it field by field. */
export const OCSF_VERSION = "1.3.0";
export const PRODUCT = { name: "taskward", vendor_name: "taskward" } as const;

const CLASSES = {
  authorize_session: { class_uid: 3003, class_name: "Authorize Session", category_uid: 3, category_name: "Identity & Access Management" },
  entity_management: { class_uid: 3004, class_name: "Entity Management", category_uid: 3, category_name: "Identity & Access Management" },
  api_activity: { class_uid: 6003, class_name: "API Activity", category_uid: 6, category_name: "Application Activity" },
} as const;
type OcsfClass = keyof typeof CLASSES;

/** For each audit event type: its OCSF class and activity (an API Activity's activity follows its operation). */
export const OCSF_MAPPING: Record<AuditEventType, { class: OcsfClass; activity: [number, string] | "by-operation" }> = {
  issued: { class: "authorize_session", activity: [1, "Assign Privileges"] },
  delegated: { class: "authorize_session", activity: [1, "Assign Privileges"] },
  allowed: { class: "api_activity", activity: "by-operation" },
  denied: { class: "api_activity", activity: "by-operation" },
  // A status answer from which the result payload was removed (the holder may not read results).
  withheld: { class: "api_activity", activity: "by-operation" },
  revoked: { class: "entity_management", activity: [9, "Disable"] },
  cancel: { class: "entity_management", activity: [99, "Cancel"] },
  terminal: { class: "entity_management", activity: [3, "Update"] },
  expired: { class: "entity_management", activity: [4, "Delete"] },
};

/** Task operations as API activities: status and result reads are Read; input and cancel change the task. */
const ACTIVITY_BY_OPERATION: Record<string, [number, string]> = { get: [2, "Read"], result: [2, "Read"], update: [3, "Update"], cancel: [3, "Update"] };
const HANDLE_TYPE = "mcp-task-handle";

type Json = Record<string, unknown>;

function detailOf(event: AuditEvent): Json {
  if (!event.detail) return {};
  try {
    const parsed: unknown = JSON.parse(event.detail);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : { value: parsed };
  } catch {
    return { value: event.detail };
  }
}

/** The operator (or lifecycle) that acted, as an OCSF actor. */
function operatorActor(actor: unknown): Json | undefined {
  return typeof actor === "string" ? { user: { uid: actor, name: actor, type: actor === "break-glass" ? "Admin" : "User" } } : undefined;
}

/** What an Entity Management event acts on: a handle, an API key, or a revocation scope. */
function entityOf(event: AuditEvent, detail: Json): Json {
  if (typeof detail.apiKey === "string") return { uid: detail.apiKey, type: "api-key", name: `${event.client_id}/${event.subject}` };
  if (event.jti) return { uid: event.jti, type: HANDLE_TYPE, ...(typeof detail.task === "string" ? { data: { task: detail.task } } : {}) };
  if (typeof detail.scope === "string") return { uid: `${detail.scope}:${String(detail.value)}`, type: "revocation-scope", name: String(detail.value) };
  return { type: "unknown" };
}

/**
 * One audit event as an OCSF event. Lossless: the chain fields (seq, hashes, raw detail) travel in
 * `unmapped`, so a SIEM copy can be matched to the verified chain event by event. `shard` is the
 * ledger shard whose chain holds the event (each numbers its events from 1): part of its id.
 */
export function toOcsf(event: AuditEvent, tenant: string, shard = 0): Json {
  const mapping = OCSF_MAPPING[event.type];
  const detail = detailOf(event);
  const [activity_id, activity_name] = mapping.activity === "by-operation" ? (ACTIVITY_BY_OPERATION[event.op ?? ""] ?? [99, event.op ?? "Other"]) : mapping.activity;
  const cls = CLASSES[mapping.class];
  const failed = event.type === "denied" || (event.type === "cancel" && event.reason !== "cancelled");
  const base: Json = {
    ...cls,
    activity_id,
    activity_name,
    type_uid: cls.class_uid * 100 + activity_id,
    type_name: `${cls.class_name}: ${activity_name}`,
    time: event.at,
    severity_id: event.type === "denied" ? 3 : 1,
    severity: event.type === "denied" ? "Medium" : "Informational",
    status_id: failed ? 2 : 1,
    status: failed ? "Failure" : "Success",
    ...(event.reason ? { status_detail: event.reason } : {}),
    ...(event.count > 1 ? { count: event.count, start_time: event.at, end_time: event.last_at } : {}),
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: `${tenant}${shardSuffix(shard)}:${event.seq}`, tenant_uid: tenant, log_name: "taskward-audit", sequence: event.seq, event_code: event.type },
    unmapped: { seq: event.seq, prev_hash: event.prev_hash, hash: event.hash, detail: event.detail, last_at: event.last_at, ...(shard > 0 ? { shard } : {}) },
  };
  const principal = event.subject ? { uid: event.subject, name: event.subject } : undefined;
  switch (mapping.class) {
    case "authorize_session":
      return {
        ...base,
        user: principal ?? { uid: "unknown" },
        privileges: Array.isArray(detail.ops) ? detail.ops.map(String) : [],
        session: { uid: event.jti ?? (typeof detail.apiKey === "string" ? detail.apiKey : null), ...(typeof detail.exp === "number" ? { expiration_time: detail.exp } : {}), ...(event.client_id ? { issuer: event.client_id } : {}) },
        ...(operatorActor(detail.actor) ? { actor: operatorActor(detail.actor) } : {}),
        ...(typeof detail.tool === "string" ? { message: `task handle for ${detail.tool}` } : {}),
      };
    case "api_activity":
      // A refused operator request names the operator (detail.actor) and the role it lacked (op).
      return {
        ...base,
        actor: operatorActor(detail.actor) ?? { user: principal ?? { uid: "unknown" }, ...(event.client_id ? { app_name: event.client_id } : {}) },
        api: { operation: event.op ?? "unknown", service: { name: "taskward" } },
        src_endpoint: { name: event.client_id ?? (detail.actor ? "admin-api" : "unknown") },
        resources: event.jti ? [{ uid: event.jti, type: HANDLE_TYPE }] : [],
      };
    case "entity_management":
      return {
        ...base,
        entity: entityOf(event, detail),
        ...(operatorActor(detail.actor) ? { actor: operatorActor(detail.actor) } : {}),
        ...(event.reason ? { comment: event.reason } : {}),
        ...(typeof detail.status === "string" ? { entity_result: { ...entityOf(event, detail), data: { status: detail.status } } } : {}),
      };
  }
}
