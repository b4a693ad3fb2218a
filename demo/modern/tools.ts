/**
 * tools/list and tools/call for the 2026-07-28 mode. A tool is synchronous, task-optional or
 * task-required; the server alone decides to answer a call with a task, and does so only for a
 * request that declares the tasks extension in its own `_meta` (never inferred across requests).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { RequestStates } from "./mrtr.js";
import { invalidParams, isObject, missingTasksExtension, type JsonObject } from "./protocol.js";
import type { TaskContext, TaskStore } from "./task-store.js";

export const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Server-wide events a tool may trigger (list changes, for subscriptions/listen streams). */
export interface ServerEvents {
  toolsListChanged(): void;
  promptsListChanged(): void;
}

/** What a tools/call handler sees of its request. */
export interface ToolContext {
  readonly name: string;
  readonly args: JsonObject;
  readonly params: JsonObject;
  readonly meta: JsonObject;
  /** This request's `_meta["io.modelcontextprotocol/clientCapabilities"]`. */
  readonly capabilities: JsonObject;
  readonly declaresTasks: boolean;
  /** MRTR retry: `params.inputResponses` (validated to be an object of objects) and `params.requestState`. */
  readonly inputResponses: Record<string, JsonObject> | undefined;
  readonly requestState: unknown;
  readonly states: RequestStates;
  /** Fires when the client disconnects. */
  readonly signal: AbortSignal;
  readonly events: ServerEvents;
  /** A notification on this request's response stream (progress, log). */
  notify(notification: JsonObject): void;
  /** notifications/message, only when the request asked for logs with `_meta["io.modelcontextprotocol/logLevel"]`. */
  log(level: LogLevel, data: unknown): void;
}

export type TaskSupport = "optional" | "required";

export interface ModernTool {
  name: string;
  title?: string;
  description: string;
  inputSchema: JsonObject;
  /** Absent: never a task. "optional": a task when the extension is declared. "required": only as a task (-32021 otherwise). */
  task?: TaskSupport;
  /** The synchronous answer: a CallToolResult or an InputRequiredResult. Task-optional tools without it run `work` inline. */
  call?(context: ToolContext): Promise<JsonObject>;
  /**
   * Before a task is created: MRTR rounds resolved synchronously (EXT §Task Creation). Returns an
   * InputRequiredResult to ask the client, or anything else as the input for `work`.
   */
  gather?(context: ToolContext): Promise<JsonObject>;
  /** The task body; gets the arguments, not the request (whose response is long gone). */
  work?(args: JsonObject, task: TaskContext, gathered: JsonObject | undefined): Promise<JsonObject>;
}

export function textResult(text: string, isError = false): JsonObject {
  return { content: [{ type: "text", text }], ...(isError ? { isError: true } : {}) };
}

/** An abortable sleep that rejects when `signal` fires. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}

const TYPE_CHECKS: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number" && Number.isFinite(value),
  integer: (value) => typeof value === "number" && Number.isInteger(value),
  boolean: (value) => typeof value === "boolean",
  object: (value) => isObject(value),
  array: (value) => Array.isArray(value),
};

/** Checks `required`, primitive `type`s and numeric bounds; returns the problems found. */
export function argumentProblems(schema: JsonObject, args: JsonObject): string[] {
  const problems: string[] = [];
  const properties = isObject(schema.properties) ? schema.properties : {};
  for (const name of Array.isArray(schema.required) ? schema.required : []) {
    if (typeof name === "string" && args[name] === undefined) problems.push(`missing required argument '${name}'`);
  }
  for (const [name, value] of Object.entries(args)) {
    const property = properties[name];
    if (!isObject(property)) continue;
    const check = typeof property.type === "string" ? TYPE_CHECKS[property.type] : undefined;
    if (check && !check(value)) problems.push(`argument '${name}' must be of type ${property.type}`);
    if (typeof value === "number" && typeof property.minimum === "number" && value < property.minimum) problems.push(`argument '${name}' must be >= ${property.minimum}`);
    if (typeof value === "number" && typeof property.maximum === "number" && value > property.maximum) problems.push(`argument '${name}' must be <= ${property.maximum}`);
  }
  return problems;
}

/** The TaskContext a task-optional tool's work gets when it runs inline (no task): no inputs, no status. */
function inlineTaskContext(signal: AbortSignal): TaskContext {
  return {
    taskId: "",
    signal,
    setStatusMessage: () => undefined,
    requestInput: () => Promise.reject(new Error("input needs a task or an MRTR round")),
  };
}

export class ToolRegistry {
  private readonly tools = new Map<string, ModernTool>();

  constructor(tools: ModernTool[]) {
    for (const tool of tools) this.tools.set(tool.name, tool);
  }

  get(name: string): ModernTool | undefined {
    return this.tools.get(name);
  }

  /** tools/list entries, in a stable order. */
  list(): JsonObject[] {
    return [...this.tools.values()].map(({ name, title, description, inputSchema }) => ({ name, ...(title ? { title } : {}), description, inputSchema }));
  }

  /** tools/call: a CallToolResult, an InputRequiredResult, or a flat CreateTaskResult (`resultType: "task"`). */
  async call(tool: ModernTool, context: ToolContext, store: TaskStore): Promise<JsonObject> {
    // A required-task tool cannot serve a request that did not declare the extension (EXT §Required Capabilities).
    if (tool.task === "required" && !context.declaresTasks) throw missingTasksExtension();
    const problems = argumentProblems(tool.inputSchema, context.args);
    // Input validation errors are tool execution errors, so the model can correct itself.
    if (problems.length > 0) return textResult(`Invalid arguments for ${tool.name}: ${problems.join("; ")}`, true);

    if (tool.task && tool.work && context.declaresTasks) {
      let gathered: JsonObject | undefined;
      if (tool.gather) {
        gathered = await tool.gather(context);
        if (gathered.resultType === "input_required") return gathered;
      }
      const work = tool.work;
      const args = context.args;
      const task = store.create((taskContext) => work(args, taskContext, gathered));
      return { resultType: "task", ...task };
    }
    if (tool.call) return tool.call(context);
    if (tool.work) return tool.work(context.args, inlineTaskContext(context.signal), undefined);
    throw invalidParams(`Tool ${tool.name} cannot be called`);
  }
}
