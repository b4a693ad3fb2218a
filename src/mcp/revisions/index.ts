import type { Refusal } from "../../errors.js";
import type { TaskOp } from "../../handle/claims.js";
import type { JsonObject } from "../envelope.js";

/** How a revision carries tasks: the 2025-11-25 utility or the 2026-07-28 extension. */
export type TaskProtocol = "utility" | "extension";

/** A task the origin just created, as read from a CreateTaskResult. */
export interface CreatedTask {
  taskId: string;
  status: string;
  /** Origin's TTL in ms; null means unlimited. */
  ttlMs: number | null;
}

/**
 * Everything taskward needs to know about one MCP protocol revision. The pipeline decides the
 * revision once per request and then asks only this module; a new revision is a new module plus
 * one line in `REVISIONS` (registry.ts).
 */
export interface RevisionModule {
  /** The revision's date string; requests with this version (and later ones up to the next module) use this module. */
  readonly name: string;
  readonly taskProtocol: TaskProtocol;
  /** Task follow-up methods and the operation each asks for by name (the result payload is judged by effect, see `payloadFields`). */
  readonly followUps: Readonly<Record<string, TaskOp>>;
  /** Methods that do not exist in this revision: refused before their params are read. */
  readonly removedMethods: ReadonlySet<string>;
  /** Operations a handle minted under this revision can carry. */
  readonly handleOps: readonly TaskOp[];
  /** The key of a task object's TTL (ms). */
  readonly ttlKey: "ttl" | "ttlMs";
  /** Fields of a task object that carry the task's result payload: seen only by holders allowed `result`. */
  readonly payloadFields: readonly string[];
  /** `Mcp-Method` / `Mcp-Name` / `Mcp-Param-*` exist in this revision. */
  readonly routingHeaders: boolean;
  /** A task request for a tool policy runs only synchronously: refused, or withdrawn where the server decides anyway. */
  forbiddenTaskRequest(tool: string): Refusal | "withdraw";
  /** The refusal for a call of a tool policy runs only as a task that does not ask for one. */
  requiredTaskRequest(tool: string): Refusal;
  /** The refusal when a task feature needs a capability this request did not declare (or this revision lacks). */
  capabilityRefusal(feature: string): Refusal;
  /** Does this request (its own params, never an earlier request) ask for a task? */
  asksForTask(params: JsonObject | undefined): boolean;
  /** A copy of params that does not ask for a task. */
  withoutTaskRequest(params: JsonObject): JsonObject;
  /** A copy of params as the origin must read them under this revision: nothing another revision would read differently. */
  encodeParams(params: JsonObject): JsonObject;
  /** The created task in a CreateTaskResult of this revision, or undefined when `result` is not one. */
  readCreatedTask(result: JsonObject): CreatedTask | undefined;
  /** A copy of a CreateTaskResult with the client-facing task id and TTL. */
  withIssuedHandle(result: JsonObject, handle: string, ttlMs: number): JsonObject;
  /** May a follow-up `op` under this revision use a handle minted under `minted`? */
  servesHandleOf(minted: RevisionModule, op: TaskOp): boolean;
  /** Does a follow-up with a handle minted under `minted` need the client to declare the tasks capability in this request? */
  followUpNeedsDeclaration(params: JsonObject | undefined, minted: RevisionModule): boolean;
  /** Does subscribing to task notifications need the tasks capability declared, and is it? */
  listenAllowed(params: JsonObject | undefined): boolean;
}

export { REVISIONS, DEFAULT_REVISION, moduleFor } from "./registry.js";
export { decideRevision, type RevisionSignals, type RevisionDecision, type DecidedRevision } from "./decide.js";
export { PROTOCOL_VERSION_META, RELATED_TASK_META, CLIENT_CAPABILITIES_META, TASKS_EXTENSION } from "./meta-keys.js";
