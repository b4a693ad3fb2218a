/**
 * SEP-2663 dual serving: a task created on the 2025-11-25 path stays reachable from the
 * 2026-07-28 mode for tasks/get and tasks/cancel, shown in the extension's DetailedTask shape
 * (ttlMs / pollIntervalMs; a tool result with isError is `completed`, as the extension has it).
 */
import { RELATED_TASK_META_KEY, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { LegacyTaskSource } from "../modern/handler.js";
import type { DetailedTask } from "../modern/task-store.js";
import type { CancellableTaskStore } from "./task-store.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export function legacyTaskSource(store: CancellableTaskStore): LegacyTaskSource {
  return {
    async get(taskId) {
      // No session id: the lookup is by task id alone (taskward's handle is the authority).
      const task = await store.getTask(taskId);
      if (!task) return undefined;
      const detailed: DetailedTask = {
        taskId: task.taskId,
        status: task.status === "input_required" ? "working" : task.status,
        createdAt: task.createdAt,
        lastUpdatedAt: task.lastUpdatedAt,
        ttlMs: task.ttl ?? null,
        ...(task.pollInterval !== undefined ? { pollIntervalMs: task.pollInterval } : {}),
        ...(task.statusMessage !== undefined ? { statusMessage: task.statusMessage } : {}),
      };
      if (task.status === "completed" || task.status === "failed") {
        const result = (await store.getTaskResult(taskId).catch(() => undefined)) as CallToolResult | undefined;
        if (result && Array.isArray(result.content)) {
          detailed.status = "completed";
          // No related-task _meta on an inlined result: the task id is the DetailedTask's own.
          const { _meta, ...rest } = result;
          const meta = Object.fromEntries(Object.entries(_meta ?? {}).filter(([key]) => key !== RELATED_TASK_META_KEY));
          detailed.result = { ...rest, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}), resultType: "complete" };
        } else if (task.status === "failed") {
          detailed.error = { code: -32603, message: task.statusMessage ?? "Task failed" };
        }
      }
      return detailed;
    },
    async cancel(taskId) {
      const task = await store.getTask(taskId);
      if (!task) return false;
      if (!TERMINAL.has(task.status)) await store.updateTaskStatus(taskId, "cancelled", "Cancelled by the client.").catch(() => undefined);
      return true;
    },
  };
}
