import type { TaskOp } from "../handle/claims.js";
import type { TaskProtocol } from "../mcp/revision.js";

/** Operations a handle allows, by the task protocol it was created under. */
export function defaultOpsFor(protocol: TaskProtocol): TaskOp[] {
  return protocol === "extension" ? ["get", "update", "cancel"] : ["get", "result", "cancel"];
}

/** The TTL a handle gets: the origin's TTL capped by policy; an unlimited (null) origin TTL is capped too. */
export function effectiveTtlMs(originTtlMs: number | null, maxTtlSeconds: number): number {
  const cap = maxTtlSeconds * 1000;
  if (originTtlMs === null || !Number.isFinite(originTtlMs) || originTtlMs <= 0) return cap;
  return Math.min(originTtlMs, cap);
}
