import { Refusal } from "../../errors.js";
import { isObject, type JsonObject } from "../envelope.js";
import type { CreatedTask, RevisionModule } from "./index.js";
import { CLIENT_CAPABILITIES_META, PROTOCOL_VERSION_META } from "./meta-keys.js";

/** `_meta` keys of later revisions: a 2025-11-25 origin must not find them and read the call as a later revision. */
const LATER_META_KEYS = [PROTOCOL_VERSION_META, CLIENT_CAPABILITIES_META];

/**
 * 2025-11-25 (and earlier versions): the tasks utility. The client asks for a task with
 * `params.task = {ttl}`; CreateTaskResult is `{task: {taskId, status, ttl, …}}`; follow-ups
 * are tasks/get, tasks/result (the payload), tasks/cancel and tasks/list; sessions exist.
 */
export const revision20251125: RevisionModule = {
  name: "2025-11-25",
  taskProtocol: "utility",
  // tasks/update is not a 2025-11-25 method; a handle never allows it here, so it answers "Task not found".
  followUps: { "tasks/get": "get", "tasks/result": "result", "tasks/cancel": "cancel", "tasks/update": "update" },
  removedMethods: new Set(),
  handleOps: ["get", "result", "cancel"],
  ttlKey: "ttl",
  // A task object never carries the payload here (tasks/result does); an origin that adds one anyway is stripped too.
  payloadFields: ["result", "error"],
  routingHeaders: false,

  forbiddenTaskRequest: (tool) => new Refusal("task_support_forbidden", tool, `Policy forbids running tool ${tool} as a task`),
  requiredTaskRequest: (tool) => new Refusal("task_support_required", tool, `Policy requires running tool ${tool} as a task (send params.task)`),
  capabilityRefusal: (feature) => new Refusal("method_removed", feature, `Method not found: ${feature} is not part of the 2025-11-25 tasks utility`),
  asksForTask: (params) => params?.task !== undefined,
  withoutTaskRequest: ({ task: _task, ...rest }) => rest,
  encodeParams(params) {
    if (!isObject(params._meta)) return { ...params };
    const meta = Object.fromEntries(Object.entries(params._meta).filter(([key]) => !LATER_META_KEYS.includes(key)));
    return { ...params, _meta: meta };
  },
  readCreatedTask(result): CreatedTask | undefined {
    const task = result.task;
    if (!isObject(task) || typeof task.taskId !== "string") return undefined;
    return { taskId: task.taskId, status: typeof task.status === "string" ? task.status : "working", ttlMs: typeof task.ttl === "number" ? task.ttl : null };
  },
  withIssuedHandle: (result, handle, ttlMs) => ({ ...result, task: { ...(result.task as JsonObject), taskId: handle, ttl: ttlMs } }),
  servesHandleOf: (minted) => minted.taskProtocol === "utility",
  followUpNeedsDeclaration: () => false,
  listenAllowed: () => false,
};
