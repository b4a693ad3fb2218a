import type { JsonObject } from "./envelope.js";
import { isObject } from "./envelope.js";

/** The tasks utility revision and the extension revision taskward speaks. */
export const REVISION_TASKS_UTILITY = "2025-11-25";
export const REVISION_TASKS_EXTENSION = "2026-07-28";
export const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";
export const RELATED_TASK_META = "io.modelcontextprotocol/related-task";

export type TaskProtocol = "utility" | "extension";

/**
 * The revision a request speaks: the `MCP-Protocol-Version` header, else (2026-07-28) the
 * `_meta` protocol version, else `initialize`'s requested version, else the tasks-utility one.
 */
export function detectRevision(header: string | undefined, params: JsonObject | undefined): string {
  if (header) return header;
  const meta = params && isObject(params._meta) ? params._meta : undefined;
  if (meta && typeof meta[PROTOCOL_VERSION_META] === "string") return meta[PROTOCOL_VERSION_META] as string;
  if (params && typeof params.protocolVersion === "string") return params.protocolVersion;
  return REVISION_TASKS_UTILITY;
}

/** Revisions from 2026-07-28 on carry tasks in the extension; earlier ones use the utility. */
export function taskProtocolOf(revision: string): TaskProtocol {
  return revision >= REVISION_TASKS_EXTENSION ? "extension" : "utility";
}
