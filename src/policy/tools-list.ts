import type { TaskPolicy } from "./task-policy.js";
import { policyFor } from "./task-policy.js";

type Json = Record<string, unknown>;

/**
 * Shows clients the task support policy enforces: each listed tool's `execution.taskSupport` is
 * replaced by the policy's override, so conformant clients never attempt a refused call.
 */
export function applyTaskSupportPolicy(result: Json, policy: TaskPolicy): void {
  if (!Array.isArray(result.tools)) return;
  for (const tool of result.tools as Json[]) {
    if (!tool || typeof tool !== "object" || typeof tool.name !== "string") continue;
    const override = policyFor(policy, tool.name).taskSupport;
    if (override === undefined) continue;
    const execution = tool.execution && typeof tool.execution === "object" ? (tool.execution as Json) : {};
    tool.execution = { ...execution, taskSupport: override };
  }
}
