/** The 2025-11-25 (SDK) path's task store: the SDK's in-memory store, plus a way to stop the work. */
import { InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import type { Task } from "@modelcontextprotocol/sdk/types.js";

/**
 * The SDK's in-memory store, plus an AbortSignal per running task: the SDK's tasks/cancel handler
 * only flips the stored status, so this is how the work itself learns to stop.
 */
export class CancellableTaskStore extends InMemoryTaskStore {
  private readonly running = new Map<string, AbortController>();

  /**
   * `sessionScoped: false` (behind taskward): a task is reachable from any session, because the
   * authority binds each handle to its principal (and, where policy says, its session) and vouches
   * for every follow-up; a delegate polls in its own session. Lists stay per session.
   */
  constructor(private readonly options: { sessionScoped: boolean } = { sessionScoped: true }) {
    super();
  }

  private scope(sessionId: string | undefined): string | undefined {
    return this.options.sessionScoped ? sessionId : undefined;
  }

  override async getTask(taskId: string, sessionId?: string): Promise<Task | null> {
    return super.getTask(taskId, this.scope(sessionId));
  }

  override async getTaskResult(taskId: string, sessionId?: string): ReturnType<InMemoryTaskStore["getTaskResult"]> {
    return super.getTaskResult(taskId, this.scope(sessionId));
  }

  override async storeTaskResult(...[taskId, status, result, sessionId]: Parameters<InMemoryTaskStore["storeTaskResult"]>): Promise<void> {
    await super.storeTaskResult(taskId, status, result, this.scope(sessionId));
  }

  signalFor(taskId: string): AbortSignal {
    const controller = new AbortController();
    this.running.set(taskId, controller);
    return controller.signal;
  }

  release(taskId: string): void {
    this.running.delete(taskId);
  }

  override async updateTaskStatus(taskId: string, status: Task["status"], statusMessage?: string, sessionId?: string): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, this.scope(sessionId));
    if (status === "cancelled") this.running.get(taskId)?.abort(new Error("task cancelled"));
  }

  override cleanup(): void {
    for (const controller of this.running.values()) controller.abort(new Error("origin closing"));
    this.running.clear();
    super.cleanup();
  }
}
