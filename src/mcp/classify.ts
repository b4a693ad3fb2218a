import { Refusal } from "../errors.js";
import type { TaskOp } from "../handle/claims.js";
import { isObject, type ClientMessage } from "./envelope.js";
import { detectRevision, taskProtocolOf, type TaskProtocol } from "./revision.js";

/** What a client message asks of the task authority. */
export type Classified =
  | { route: "create-candidate"; message: Extract<ClientMessage, { kind: "request" }>; revision: string; protocol: TaskProtocol; tool: string }
  | { route: "follow-up"; message: Extract<ClientMessage, { kind: "request" }>; revision: string; protocol: TaskProtocol; op: TaskOp; handle: string }
  | { route: "list"; message: Extract<ClientMessage, { kind: "request" }>; revision: string; protocol: TaskProtocol }
  | { route: "listen"; message: Extract<ClientMessage, { kind: "request" }>; revision: string; protocol: TaskProtocol; handles: string[] }
  | { route: "passthrough"; message: ClientMessage; revision: string; protocol: TaskProtocol };

const REMOVED_IN_EXTENSION = new Set(["tasks/result", "tasks/list"]);

const FOLLOW_UP_OPS: Record<string, TaskOp> = {
  "tasks/get": "get",
  "tasks/result": "result",
  "tasks/cancel": "cancel",
  "tasks/update": "update",
};

/** Sorts a validated client message into create / follow-up / list / passthrough. */
export function classify(message: ClientMessage, protocolVersionHeader: string | undefined): Classified {
  const params = message.kind === "response" ? undefined : message.params;
  const revision = detectRevision(protocolVersionHeader, params);
  const protocol = taskProtocolOf(revision);
  if (message.kind === "notification" && message.method.startsWith("tasks/")) {
    // tasks/* are requests; as a notification they would reach the origin unauthorized.
    throw new Refusal("invalid_request", `${message.method} without id`, `Not a valid JSON-RPC 2.0 message: ${message.method} is a request and needs an "id"`);
  }
  if (message.kind !== "request") return { route: "passthrough", message, revision, protocol };
  if (protocol === "extension" && REMOVED_IN_EXTENSION.has(message.method)) {
    // Answered before params are looked at: these methods do not exist in this revision.
    throw new Refusal("method_removed", message.method, `Method not found: ${message.method} is not part of the ${revision} tasks extension`);
  }
  if (message.method === "subscriptions/listen") {
    const taskIds = isObject(message.params?.notifications) ? message.params.notifications.taskIds : undefined;
    if (taskIds !== undefined) {
      if (!Array.isArray(taskIds) || !taskIds.every((id) => typeof id === "string")) {
        throw new Refusal("invalid_params", "taskIds not strings", "Invalid params: notifications.taskIds must be an array of strings");
      }
      return { route: "listen", message, revision, protocol, handles: taskIds as string[] };
    }
  }
  const op = FOLLOW_UP_OPS[message.method];
  if (op) {
    const taskId = message.params?.taskId;
    if (typeof taskId !== "string" || taskId.length === 0) {
      throw new Refusal("invalid_params", `${message.method} without a string taskId`, `Invalid params: ${message.method} requires params.taskId to be a non-empty string`);
    }
    return { route: "follow-up", message, revision, protocol, op, handle: taskId };
  }
  if (message.method === "tasks/list") return { route: "list", message, revision, protocol };
  if (message.method === "tools/call") {
    const name = message.params?.name;
    if (typeof name !== "string" || name.length === 0) {
      throw new Refusal("invalid_params", "tools/call without a name", "Invalid params: tools/call requires params.name to be a non-empty string");
    }
    return { route: "create-candidate", message, revision, protocol, tool: name };
  }
  return { route: "passthrough", message, revision, protocol };
}
