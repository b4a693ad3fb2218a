/**
 * The demo's own 2025-11-25 tools on the SDK path: one per task mode (required, optional,
 * forbidden), a long cancellable job and a failing one.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CreateTaskRequestHandlerExtra, TaskRequestHandlerExtra } from "@modelcontextprotocol/sdk/experimental/tasks/interfaces.js";
import type { CreateTaskResult } from "@modelcontextprotocol/sdk/experimental/tasks/types.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import type { CancellableTaskStore } from "./task-store.js";

export const DEFAULT_TTL_MS = 60_000;
export const POLL_INTERVAL_MS = 200;

/** What a task's background work gets: a signal that fires on tasks/cancel, and a way to report progress. */
interface TaskContext {
  signal: AbortSignal;
  report(statusMessage: string): Promise<void>;
}

type TaskWork = (context: TaskContext) => Promise<CallToolResult>;

function textResult(text: string, isError = false): CallToolResult {
  return { content: [{ type: "text", text }], ...(isError ? { isError: true } : {}) };
}

/** Creates the task with the client's ttl, starts `work` in the background, and answers CreateTaskResult at once. */
async function startTask(store: CancellableTaskStore, extra: CreateTaskRequestHandlerExtra, work: TaskWork): Promise<CreateTaskResult> {
  const task = await extra.taskStore.createTask({ ttl: extra.taskRequestedTtl ?? DEFAULT_TTL_MS, pollInterval: POLL_INTERVAL_MS });
  const signal = store.signalFor(task.taskId);
  const report = (statusMessage: string) => extra.taskStore.updateTaskStatus(task.taskId, "working", statusMessage);
  void runTask(store, extra, task.taskId, () => work({ signal, report }), signal);
  return { task };
}

async function runTask(store: CancellableTaskStore, extra: CreateTaskRequestHandlerExtra, taskId: string, work: () => Promise<CallToolResult>, signal: AbortSignal): Promise<void> {
  try {
    const result = await work().catch((error: unknown) => textResult(`error: ${(error as Error).message}`, true));
    // Cancelled: the SDK already moved the task to `cancelled`, which is terminal.
    if (signal.aborted) return;
    // A tool result with isError is a failed task (MCP 2025-11-25, tasks: tool call errors).
    await extra.taskStore.storeTaskResult(taskId, result.isError ? "failed" : "completed", result);
  } catch {
    // The task expired or the session closed while working; nobody is left to tell.
  } finally {
    store.release(taskId);
  }
}

/** The SDK answers tasks/get and tasks/result from the store itself; these are required by the API but mirror it. */
const storeFollowUps = {
  getTask: (_args: unknown, extra: TaskRequestHandlerExtra) => extra.taskStore.getTask(extra.taskId),
  getTaskResult: async (_args: unknown, extra: TaskRequestHandlerExtra) => (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
};

export function registerTools(server: McpServer, store: CancellableTaskStore): void {
  server.experimental.tasks.registerToolTask(
    "slow_echo",
    {
      description: "Echoes text after a delay; task-only.",
      inputSchema: { text: z.string(), delayMs: z.number().int().min(0).max(60_000).default(300) },
      execution: { taskSupport: "required" },
    },
    {
      createTask: ({ text, delayMs }, extra) =>
        startTask(store, extra, async ({ signal }) => {
          await sleep(delayMs, undefined, { signal });
          return textResult(text);
        }),
      ...storeFollowUps,
    },
  );

  server.experimental.tasks.registerToolTask(
    "summarize",
    {
      description: "Summarizes text quickly; works as a plain call or as a task.",
      inputSchema: { text: z.string() },
      execution: { taskSupport: "optional" },
    },
    {
      createTask: ({ text }, extra) => startTask(store, extra, async () => textResult(`summary: ${text.slice(0, 80)}`)),
      ...storeFollowUps,
    },
  );

  server.registerTool("ping_now", { description: "Answers pong; never a task." }, async () => textResult("pong"));

  server.experimental.tasks.registerToolTask(
    "long_job",
    {
      description: "Works for `seconds`, reporting progress each second, until done or cancelled.",
      inputSchema: { seconds: z.number().positive().max(3600).default(30) },
      execution: { taskSupport: "required" },
    },
    {
      createTask: ({ seconds }, extra) => startTask(store, extra, ({ signal, report }) => runLongJob(seconds, signal, report)),
      ...storeFollowUps,
    },
  );

  server.experimental.tasks.registerToolTask(
    "always_fails",
    { description: "A task that always ends `failed`.", inputSchema: {}, execution: { taskSupport: "required" } },
    {
      createTask: (_args, extra) =>
        startTask(store, extra, async ({ signal }) => {
          await sleep(50, undefined, { signal });
          return textResult("always_fails: this tool always fails", true);
        }),
      ...storeFollowUps,
    },
  );
}

async function runLongJob(seconds: number, signal: AbortSignal, report: TaskContext["report"]): Promise<CallToolResult> {
  const deadline = Date.now() + seconds * 1000;
  for (let tick = 1; Date.now() < deadline; tick++) {
    await sleep(Math.min(1000, deadline - Date.now()), undefined, { signal });
    // Each update also emits notifications/tasks/status, which is traffic taskward must rewrite.
    if (Date.now() < deadline) await report(`${tick}s of ${seconds}s`);
  }
  return textResult(`long_job done after ${seconds}s`);
}
