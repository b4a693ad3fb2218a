import { Refusal } from "../../errors.js";
import { isObject, type JsonObject } from "../envelope.js";
import type { CreatedTask, RevisionModule } from "./index.js";
import { CLIENT_CAPABILITIES_META, TASKS_EXTENSION } from "./meta-keys.js";

/** Did this very request declare the tasks extension in `_meta` (never inferred from earlier requests)? */
function declaresTasksExtension(params: JsonObject | undefined): boolean {
  const capabilities = isObject(params?._meta) ? params._meta[CLIENT_CAPABILITIES_META] : undefined;
  return isObject(capabilities) && isObject(capabilities.extensions) && TASKS_EXTENSION in capabilities.extensions;
}

function missingTasksCapability(feature: string): Refusal {
  return new Refusal("missing_client_capability", `tasks extension not declared (${feature})`, "Missing required client capability", {
    requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  });
}

/**
 * 2026-07-28 with the `io.modelcontextprotocol/tasks` extension: the server decides whether a
 * call becomes a task, for clients that declare the extension in
 * `_meta["io.modelcontextprotocol/clientCapabilities"]`; CreateTaskResult is flat
 * `{resultType: "task", taskId, status, ttlMs, …}`; tasks/get answers carry the result inline;
 * tasks/update supplies input; no sessions; `Mcp-Method` / `Mcp-Name` / `Mcp-Param-*` headers.
 */
export const revision20260728: RevisionModule = {
  name: "2026-07-28",
  taskProtocol: "extension",
  followUps: { "tasks/get": "get", "tasks/update": "update", "tasks/cancel": "cancel" },
  removedMethods: new Set(["tasks/result", "tasks/list"]),
  handleOps: ["get", "result", "update", "cancel"],
  ttlKey: "ttlMs",
  payloadFields: ["result", "error"],
  routingHeaders: true,

  // The server decides: a forbidden tool reaches the origin as from a client without the extension.
  forbiddenTaskRequest: () => "withdraw",
  requiredTaskRequest: (tool) => missingTasksCapability(tool),
  capabilityRefusal: missingTasksCapability,
  asksForTask: declaresTasksExtension,
  withoutTaskRequest(params) {
    if (!declaresTasksExtension(params)) return { ...params };
    const meta = params._meta as JsonObject;
    const capabilities = meta[CLIENT_CAPABILITIES_META] as JsonObject;
    const { [TASKS_EXTENSION]: _declared, ...extensions } = capabilities.extensions as JsonObject;
    return { ...params, _meta: { ...meta, [CLIENT_CAPABILITIES_META]: { ...capabilities, extensions } } };
  },
  // `params.task` is the 2025-11-25 way to ask for a task; an origin serving both must not read it here.
  encodeParams: ({ task: _task, ...rest }) => rest,
  readCreatedTask(result): CreatedTask | undefined {
    if (result.resultType !== "task" || typeof result.taskId !== "string") return undefined;
    return { taskId: result.taskId, status: typeof result.status === "string" ? result.status : "working", ttlMs: typeof result.ttlMs === "number" ? result.ttlMs : null };
  },
  withIssuedHandle: (result, handle, ttlMs) => ({ ...result, taskId: handle, ttlMs }),
  // SEP-2663 dual serving: tasks created under 2025-11-25 stay reachable for status (and its payload, by effect) and cancel.
  servesHandleOf: (minted, op) => minted.taskProtocol === "extension" || op === "get" || op === "cancel",
  followUpNeedsDeclaration: (params, minted) => minted.taskProtocol === "extension" && !declaresTasksExtension(params),
  listenAllowed: declaresTasksExtension,
};
