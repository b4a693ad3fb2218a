import { Refusal } from "../errors.js";
import type { TaskOp } from "../handle/claims.js";
import { isObject, type ClientMessage } from "./envelope.js";
import type { RevisionModule } from "./revisions/index.js";

type Request = Extract<ClientMessage, { kind: "request" }>;

/** What a client message asks of the task authority, read under one revision. */
export type Classified =
  | { route: "create"; request: Request; tool: string }
  | { route: "follow-up"; request: Request; op: TaskOp; handle: string }
  | { route: "list"; request: Request }
  | { route: "listen"; request: Request; handles: string[] }
  | { route: "passthrough"; message: ClientMessage };

export type Classification = Classified | { route: "refused"; refusal: Refusal };

/** One rule: a classification, or undefined to let the next rule decide. */
type Rule = (message: ClientMessage, module: RevisionModule) => Classification | undefined;

const refused = (refusal: Refusal): Classification => ({ route: "refused", refusal });

const RULES: ReadonlyArray<readonly [name: string, rule: Rule]> = [
  // tasks/* are requests; as a notification they would reach the origin unauthorized.
  ["task method without id", (m) =>
    m.kind === "notification" && m.method.startsWith("tasks/")
      ? refused(new Refusal("invalid_request", `${m.method} without id`, `Not a valid JSON-RPC 2.0 message: ${m.method} is a request and needs an "id"`))
      : undefined],
  ["not a request", (m) => (m.kind !== "request" ? { route: "passthrough", message: m } : undefined)],
  // Answered before params are looked at: these methods do not exist in this revision.
  ["removed method", (m, module) =>
    m.kind === "request" && module.removedMethods.has(m.method)
      ? refused(new Refusal("method_removed", m.method, `Method not found: ${m.method} is not part of the ${module.name} tasks ${module.taskProtocol}`))
      : undefined],
  ["task subscription", (m) => {
    if (m.kind !== "request" || m.method !== "subscriptions/listen") return undefined;
    const taskIds = isObject(m.params?.notifications) ? m.params.notifications.taskIds : undefined;
    if (taskIds === undefined) return undefined;
    if (!Array.isArray(taskIds) || !taskIds.every((id) => typeof id === "string")) {
      return refused(new Refusal("invalid_params", "taskIds not strings", "Invalid params: notifications.taskIds must be an array of strings"));
    }
    return { route: "listen", request: m, handles: taskIds as string[] };
  }],
  ["task follow-up", (m, module) => {
    const op = m.kind === "request" ? module.followUps[m.method] : undefined;
    if (m.kind !== "request" || op === undefined) return undefined;
    const taskId = m.params?.taskId;
    if (typeof taskId !== "string" || taskId.length === 0) {
      return refused(new Refusal("invalid_params", `${m.method} without a string taskId`, `Invalid params: ${m.method} requires params.taskId to be a non-empty string`));
    }
    return { route: "follow-up", request: m, op, handle: taskId };
  }],
  ["task list", (m) => (m.kind === "request" && m.method === "tasks/list" ? { route: "list", request: m } : undefined)],
  ["tool call", (m) => {
    if (m.kind !== "request" || m.method !== "tools/call") return undefined;
    const name = m.params?.name;
    if (typeof name !== "string" || name.length === 0) {
      return refused(new Refusal("invalid_params", "tools/call without a name", "Invalid params: tools/call requires params.name to be a non-empty string"));
    }
    return { route: "create", request: m, tool: name };
  }],
];

/** Sorts a validated client message into a route under `module`; the first rule that answers wins. Never throws. */
export function classify(message: ClientMessage, module: RevisionModule): Classification {
  for (const [, rule] of RULES) {
    const classification = rule(message, module);
    if (classification) return classification;
  }
  return { route: "passthrough", message };
}
