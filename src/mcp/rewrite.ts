import { isObject, type JsonObject, type RequestId } from "./envelope.js";
import { RELATED_TASK_META } from "./revision.js";

/** A task the origin just created, as read from a CreateTaskResult. */
export interface CreatedTask {
  taskId: string;
  status: string;
  /** Origin's TTL in ms; null means unlimited. */
  ttlMs: number | null;
}

/** How origin task ids become handles; supplied by the proxy, backed by the handle minter and ledger. */
export interface TaskIdMapper {
  /** Mints the handle for a created task; returns it and the effective TTL (ms) to show the client. */
  mint(task: CreatedTask): Promise<{ handle: string; ttlMs: number }>;
  /** Handles for origin task ids the caller owns; ids it does not own are absent. */
  resolve(taskIds: string[]): Promise<Map<string, string>>;
  /** The status an origin reported for one of its tasks (for the audit trail). */
  observeStatus(taskId: string, status: string): void;
  /** A task's terminal result reached the client (starts the post-delivery revocation grace); undefined: the task this request names. */
  observeDelivery(taskId: string | undefined): void;
  /** The effective TTL (ms) for a task the caller owns, to replace the origin's in task objects. */
  effectiveTtlMs(taskId: string): number | undefined;
  /** Seals an origin pagination cursor (it may be an origin task id) for the client. */
  sealCursor(cursor: string): Promise<string>;
  /** Origin ids this request already knows the client-side name of (handle or sealed cursor), for scrubbing error text. */
  knownNames(): ReadonlyMap<string, string>;
}

export interface OutboundContext {
  /** The id of the client's request, so only its own response is treated as the creation result. */
  requestId: RequestId | undefined;
  requestMethod: string | undefined;
  mapper: TaskIdMapper;
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

/** Every origin task id in a message, so they can be resolved in one ledger round trip. */
function collectTaskIds(message: JsonObject): string[] {
  const ids: string[] = [];
  const result = isObject(message.result) ? message.result : undefined;
  const params = isObject(message.params) ? message.params : undefined;
  if (result) {
    if (typeof result.taskId === "string") ids.push(result.taskId);
    if (Array.isArray(result.tasks)) for (const task of result.tasks) if (isObject(task) && typeof task.taskId === "string") ids.push(task.taskId);
    const related = relatedTaskOf(result);
    if (related) ids.push(related.taskId as string);
  }
  if (params) {
    if (typeof params.taskId === "string") ids.push(params.taskId);
    const subscribed = subscribedTaskIds(params);
    if (subscribed) ids.push(...subscribed);
    const related = relatedTaskOf(params);
    if (related) ids.push(related.taskId as string);
  }
  return ids;
}

/** Rewrites a task object's id and TTL in place; returns false if the caller does not own it. */
function rewriteTaskObject(task: JsonObject, handles: Map<string, string>, context: OutboundContext, ttlKey: "ttl" | "ttlMs"): boolean {
  const originId = task.taskId as string;
  const handle = handles.get(originId);
  if (!handle) return false;
  if (typeof task.status === "string") context.mapper.observeStatus(originId, task.status);
  const effective = context.mapper.effectiveTtlMs(originId);
  if (effective !== undefined && ttlKey in task) {
    const originTtl = task[ttlKey];
    task[ttlKey] = typeof originTtl === "number" ? Math.min(originTtl, effective) : effective;
  }
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

async function rewriteCreation(result: JsonObject, context: OutboundContext): Promise<boolean> {
  // 2025-11-25: { task: { taskId, status, ttl, … } }
  if (isObject(result.task) && typeof result.task.taskId === "string") {
    const task = result.task;
    const { handle, ttlMs } = await context.mapper.mint({
      taskId: task.taskId as string,
      status: typeof task.status === "string" ? task.status : "working",
      ttlMs: typeof task.ttl === "number" ? task.ttl : null,
    });
    task.taskId = handle;
    task.ttl = ttlMs;
    return true;
  }
  // 2026-07-28 extension: flat { resultType: "task", taskId, status, ttlMs, … }
  if (result.resultType === "task" && typeof result.taskId === "string") {
    const { handle, ttlMs } = await context.mapper.mint({
      taskId: result.taskId,
      status: typeof result.status === "string" ? result.status : "working",
      ttlMs: typeof result.ttlMs === "number" ? result.ttlMs : null,
    });
    result.taskId = handle;
    result.ttlMs = ttlMs;
    return true;
  }
  return false;
}

/**
 * Replaces every origin task id in one origin→client message with its handle. Returns the
 * message to send, or null when it only concerns tasks the caller does not own (dropped: an
 * origin id never reaches a client).
 */
export async function rewriteOutboundMessage(message: JsonObject, context: OutboundContext): Promise<JsonObject | null> {
  if (isObject(message.error)) {
    message.error = scrubOriginIds(message.error, context.mapper.knownNames());
    return message;
  }
  const isOwnResponse = "id" in message && message.id === context.requestId && ("result" in message || "error" in message);
  const result = isObject(message.result) ? message.result : undefined;
  if (isOwnResponse && result && context.requestMethod === "tools/call" && (await rewriteCreation(result, context))) {
    return message;
  }
  if (isOwnResponse && result) noteDelivery(result, context);
  // A tasks/list cursor may itself be an origin task id.
  if (result && Array.isArray(result.tasks) && typeof result.nextCursor === "string") result.nextCursor = await context.mapper.sealCursor(result.nextCursor);
  const ids = collectTaskIds(message);
  if (ids.length === 0) return message;
  const handles = await context.mapper.resolve([...new Set(ids)]);
  if (result) {
    if (Array.isArray(result.tasks)) {
      result.tasks = result.tasks.filter((task) => isObject(task) && typeof task.taskId === "string" && rewriteTaskObject(task, handles, context, "ttl"));
    }
    if (typeof result.taskId === "string" && !rewriteTaskObject(result, handles, context, "ttl" in result ? "ttl" : "ttlMs")) {
      return null;
    }
    if (rewriteRelatedTask(result, handles) === "unowned" && isObject(result._meta)) delete result._meta[RELATED_TASK_META];
  }
  const params = isObject(message.params) ? message.params : undefined;
  if (params) {
    const method = typeof message.method === "string" ? message.method : "";
    if (typeof params.taskId === "string") {
      if (!method.startsWith("notifications/")) {
        // A server request naming a task id directly: only forward it when the caller owns the task.
        const handle = handles.get(params.taskId);
        if (!handle) return null;
        params.taskId = handle;
      } else if (!rewriteTaskObject(params, handles, context, "ttl" in params ? "ttl" : "ttlMs")) {
        return null;
      }
    }
    if (rewriteRelatedTask(params, handles) === "unowned") return null;
    const subscribed = subscribedTaskIds(params);
    if (subscribed) {
      // Acknowledged ids the caller does not own are dropped, never shown as origin ids.
      (params.notifications as JsonObject).taskIds = subscribed.flatMap((id) => (handles.has(id) ? [handles.get(id)!] : []));
    }
  }
  return message;
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

/** Spots a terminal result handed to the client: a tasks/result answer, or a 2026 tasks/get with the result inline. */
function noteDelivery(result: JsonObject, context: OutboundContext): void {
  if (context.requestMethod === "tasks/result") {
    context.mapper.observeDelivery(relatedTaskOf(result)?.taskId as string | undefined);
  } else if (context.requestMethod === "tasks/get" && typeof result.taskId === "string" && typeof result.status === "string") {
    const inline = "result" in result || "error" in result;
    if (inline && ["completed", "failed"].includes(result.status)) context.mapper.observeDelivery(result.taskId);
  }
}
