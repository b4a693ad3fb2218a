import { isObject, type JsonObject, type RequestId } from "./envelope.js";
import { RELATED_TASK_META, type CreatedTask, type RevisionModule } from "./revisions/index.js";

export type { CreatedTask };

/** How origin task ids become handles; supplied by the proxy, backed by the handle minter and ledger. */
export interface TaskIdMapper {
  /** Mints the handle for a created task; returns it and the effective TTL (ms) to show the client. */
  mint(task: CreatedTask): Promise<{ handle: string; ttlMs: number }>;
  /** Handles for origin task ids the caller owns; ids it does not own are absent. */
  resolve(taskIds: string[]): Promise<Map<string, string>>;
  /** The status an origin reported for one of its tasks (for the audit trail). */
  observeStatus(taskId: string, status: string): void;
  /** The terminal result of the task this request names reached the client (starts the post-delivery revocation grace). */
  observeDelivery(): void;
  /** The effective TTL (ms) for a task the caller owns, to replace the origin's in task objects. */
  effectiveTtlMs(taskId: string): number | undefined;
  /** Seals an origin pagination cursor (it may be an origin task id) for the client. */
  sealCursor(cursor: string): Promise<string>;
  /** Origin ids this request already knows the client-side name of (handle or sealed cursor), for scrubbing error text. */
  knownNames(): ReadonlyMap<string, string>;
  /** May the caller see this task's result payload now? Only when this request authorized `result` (by effect) for it. */
  payloadAllowed(taskId: string): boolean;
  /** A task's result payload was removed before the caller saw it (audited). */
  observeWithheld(taskId: string, fields: string[]): void;
}

export interface OutboundContext {
  /** The id of the client's request, so only its own response is treated as the creation result. */
  requestId: RequestId | undefined;
  requestMethod: string | undefined;
  mapper: TaskIdMapper;
  /** The revision the request was read under: the creation-result shape, TTL key and payload fields. */
  module: RevisionModule;
  /** Set only on the create route: a CreateTaskResult answering this request gets a handle minted. */
  creates?: boolean;
}

/** `notifications.taskIds` of a subscriptions/listen acknowledgement (2026-07-28). */
function subscribedTaskIds(params: JsonObject): string[] | undefined {
  const notifications = params.notifications;
  if (!isObject(notifications) || !Array.isArray(notifications.taskIds)) return undefined;
  return notifications.taskIds.filter((id): id is string => typeof id === "string");
}

function relatedTaskOf(holder: unknown): JsonObject | undefined {
  if (!isObject(holder) || !isObject(holder._meta)) return undefined;
  const related = holder._meta[RELATED_TASK_META];
  return isObject(related) && typeof related.taskId === "string" ? related : undefined;
}

/** A nested 2025-11-25 task object (`result.task`), whatever revision the request was read under. */
function nestedTaskOf(result: JsonObject): JsonObject | undefined {
  return isObject(result.task) && typeof result.task.taskId === "string" ? result.task : undefined;
}

/** Every origin task id in a message, wherever a task id can travel, so they resolve in one ledger round trip. */
function collectTaskIds(message: JsonObject): string[] {
  const ids: string[] = [];
  for (const holder of [message.result, message.params]) {
    if (!isObject(holder)) continue;
    if (typeof holder.taskId === "string") ids.push(holder.taskId);
    const nested = nestedTaskOf(holder);
    if (nested) ids.push(nested.taskId as string);
    if (Array.isArray(holder.tasks)) for (const task of holder.tasks) if (isObject(task) && typeof task.taskId === "string") ids.push(task.taskId);
    const related = relatedTaskOf(holder);
    if (related) ids.push(related.taskId as string);
    const subscribed = subscribedTaskIds(holder);
    if (subscribed) ids.push(...subscribed);
  }
  return ids;
}

/** Removes the result payload from a task object the caller may only see the status of. */
function withholdPayload(task: JsonObject, originId: string, context: OutboundContext): void {
  if (context.mapper.payloadAllowed(originId)) return;
  const present = context.module.payloadFields.filter((field) => field in task);
  if (present.length === 0) return;
  for (const field of present) delete task[field];
  context.mapper.observeWithheld(originId, present);
}

/** Rewrites a task object's id and TTL in place and withholds a payload the caller may not see; false if the caller does not own it. */
function rewriteTaskObject(task: JsonObject, handles: Map<string, string>, context: OutboundContext): boolean {
  const originId = task.taskId as string;
  const handle = handles.get(originId);
  if (!handle) return false;
  if (typeof task.status === "string") context.mapper.observeStatus(originId, task.status);
  const ttlKey = context.module.ttlKey;
  const effective = context.mapper.effectiveTtlMs(originId);
  if (effective !== undefined && ttlKey in task) {
    const originTtl = task[ttlKey];
    task[ttlKey] = typeof originTtl === "number" ? Math.min(originTtl, effective) : effective;
  }
  withholdPayload(task, originId, context);
  task.taskId = handle;
  return true;
}

function rewriteRelatedTask(holder: JsonObject | undefined, handles: Map<string, string>): "ok" | "unowned" {
  const related = relatedTaskOf(holder);
  if (!related) return "ok";
  const handle = handles.get(related.taskId as string);
  if (!handle) return "unowned";
  related.taskId = handle;
  return "ok";
}

/** The creation result answering this request, in the decided revision's shape, with its handle minted. */
async function mintCreation(message: JsonObject, context: OutboundContext): Promise<{ originId: string; handle: string } | undefined> {
  const isOwnResponse = "id" in message && message.id === context.requestId;
  if (!context.creates || !isOwnResponse || !isObject(message.result)) return undefined;
  const created = context.module.readCreatedTask(message.result);
  if (!created) return undefined;
  const { handle, ttlMs } = await context.mapper.mint(created);
  message.result = context.module.withIssuedHandle(message.result, handle, ttlMs);
  return { originId: created.taskId, handle };
}

/**
 * Replaces every origin task id in one origin→client message with its handle, in one pass over
 * every part (result, params, error, task lists, nested and related tasks), and withholds result
 * payloads the caller may not see. Returns the message to send, or null when it concerns a task
 * the caller does not own (dropped: an origin id never reaches a client).
 */
export async function rewriteOutboundMessage(message: JsonObject, context: OutboundContext): Promise<JsonObject | null> {
  const minted = await mintCreation(message, context);
  const names = new Map(context.mapper.knownNames());
  if (minted) names.set(minted.originId, minted.handle);
  if (isObject(message.error)) message.error = scrubOriginIds(message.error, names);

  const result = isObject(message.result) ? message.result : undefined;
  // A tasks/list cursor may itself be an origin task id.
  if (result && Array.isArray(result.tasks) && typeof result.nextCursor === "string") result.nextCursor = await context.mapper.sealCursor(result.nextCursor);
  const ids = [...new Set(collectTaskIds(message))].filter((id) => id !== minted?.originId);
  const handles = ids.length > 0 ? await context.mapper.resolve(ids) : new Map<string, string>();
  if (minted) handles.set(minted.originId, minted.handle);

  if (result) {
    if (Array.isArray(result.tasks)) {
      result.tasks = result.tasks.filter((task) => isObject(task) && typeof task.taskId === "string" && rewriteTaskObject(task, handles, context));
    }
    const nested = minted ? undefined : nestedTaskOf(result);
    // A CreateTaskResult not answering this request's own creation (replayed, or on the GET stream) passes only for a task the caller owns.
    if (nested && !rewriteTaskObject(nested, handles, context)) return null;
    if (!minted && typeof result.taskId === "string" && !rewriteTaskObject(result, handles, context)) return null;
    if (rewriteRelatedTask(result, handles) === "unowned" && isObject(result._meta)) delete result._meta[RELATED_TASK_META];
  }
  const params = isObject(message.params) ? message.params : undefined;
  if (params && !(await rewriteParams(message, params, handles, context))) return null;
  if (result && "id" in message && message.id === context.requestId) noteDelivery(result, context);
  return message;
}

async function rewriteParams(message: JsonObject, params: JsonObject, handles: Map<string, string>, context: OutboundContext): Promise<boolean> {
  const method = typeof message.method === "string" ? message.method : "";
  if (typeof params.taskId === "string") {
    if (!method.startsWith("notifications/")) {
      // A server request naming a task id directly: only forward it when the caller owns the task.
      const handle = handles.get(params.taskId);
      if (!handle) return false;
      params.taskId = handle;
    } else if (!rewriteTaskObject(params, handles, context)) {
      return false;
    }
  }
  const nested = nestedTaskOf(params);
  if (nested && !rewriteTaskObject(nested, handles, context)) return false;
  if (rewriteRelatedTask(params, handles) === "unowned") return false;
  const subscribed = subscribedTaskIds(params);
  if (subscribed) {
    // Acknowledged ids the caller does not own are dropped, never shown as origin ids.
    (params.notifications as JsonObject).taskIds = subscribed.flatMap((id) => (handles.has(id) ? [handles.get(id)!] : []));
  }
  return true;
}

/**
 * Origin error text can name origin ids ("Task not found: <id>"); each known id is replaced by
 * the name the client knows it by, and anything else shaped like the request's ids cannot leak
 * because only ids of this request reach the origin.
 */
function scrubOriginIds(error: JsonObject, names: ReadonlyMap<string, string>): JsonObject {
  if (names.size === 0) return error;
  let text = JSON.stringify(error);
  for (const [originId, clientName] of names) {
    const quotedOrigin = JSON.stringify(originId).slice(1, -1);
    const quotedName = JSON.stringify(clientName).slice(1, -1);
    text = text.split(quotedOrigin).join(quotedName);
  }
  return JSON.parse(text) as JsonObject;
}

/**
 * Spots a terminal result actually handed to the client: a tasks/result answer, or a tasks/get
 * answer that still carries its payload after withholding (2026-07-28 inline result).
 */
function noteDelivery(result: JsonObject, context: OutboundContext): void {
  // Only a follow-up's own answer delivers, and a follow-up names exactly one task.
  if (context.requestMethod === "tasks/result") {
    context.mapper.observeDelivery();
  } else if (context.requestMethod === "tasks/get" && typeof result.taskId === "string" && typeof result.status === "string") {
    const inline = context.module.payloadFields.some((field) => field in result);
    if (inline && ["completed", "failed"].includes(result.status)) context.mapper.observeDelivery();
  }
}
