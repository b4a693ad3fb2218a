/**
 * Tasks of the `io.modelcontextprotocol/tasks` extension, in memory: each task runs its work in
 * the background and is polled with tasks/get (a flat DetailedTask), fed with tasks/update
 * (answers to its `inputRequests`) and stopped with tasks/cancel. Creation is synchronous, so a
 * task is visible to tasks/get before its CreateTaskResult is sent (durable create).
 */
import { randomBytes } from "node:crypto";
import { ErrorCode, isoNow, RpcError, type JsonObject } from "./protocol.js";

export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

const TERMINAL: ReadonlySet<TaskStatus> = new Set(["completed", "failed", "cancelled"]);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL.has(status);
}

/** The extension's Task plus the status-specific fields (EXTS `DetailedTask`). */
export interface DetailedTask {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  /** Integer milliseconds; null = unlimited. */
  ttlMs: number | null;
  pollIntervalMs?: number;
  /** completed: the original tool result (an isError tool result is still `completed`). */
  result?: JsonObject;
  /** failed: the JSON-RPC error the work ended with. */
  error?: JsonObject;
  /** input_required: every outstanding request, keyed by a server-minted id. */
  inputRequests?: Record<string, JsonObject>;
}

/** What a task's work gets from the store. */
export interface TaskContext {
  readonly taskId: string;
  /** Fires on tasks/cancel (or expiry); the work should stop promptly. */
  readonly signal: AbortSignal;
  setStatusMessage(message: string): void;
  /**
   * Parks the task in `input_required` with this request (an `elicitation/create`,
   * `sampling/createMessage` or `roots/list` request object) until tasks/update answers it;
   * resolves with the client's response. Several may be outstanding at once.
   */
  requestInput(request: JsonObject, keyPrefix?: string): Promise<JsonObject>;
}

/** A task's work: resolves to the tool result; throwing an RpcError ends the task `failed` with it. */
export type TaskWork = (context: TaskContext) => Promise<JsonObject>;

export type TaskListener = (task: DetailedTask) => void;

interface PendingInput {
  request: JsonObject;
  resolve(response: JsonObject): void;
  reject(reason: unknown): void;
}

interface StoredTask {
  task: DetailedTask;
  pending: Map<string, PendingInput>;
  controller: AbortController;
  expiresAt: number;
  inputCounter: number;
}

export interface TaskStoreOptions {
  /** Lifetime of every task from creation; default 5 minutes. */
  ttlMs?: number;
  /** The polling interval suggested to clients; default 200 ms. */
  pollIntervalMs?: number;
}

/** 128 random bits, hex: unguessable (EXT §Security) and header-safe for Mcp-Name. */
export function newTaskId(): string {
  return randomBytes(16).toString("hex");
}

export class TaskStore {
  private readonly tasks = new Map<string, StoredTask>();
  private readonly listeners = new Set<TaskListener>();
  private readonly sweeper: NodeJS.Timeout;
  readonly ttlMs: number;
  readonly pollIntervalMs: number;

  constructor(options: TaskStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  /** Creates the task (visible at once) and starts `work` in the background; returns the new task. */
  create(work: TaskWork, statusMessage = "The operation is now in progress."): DetailedTask {
    const now = isoNow();
    const taskId = newTaskId();
    const stored: StoredTask = {
      task: { taskId, status: "working", statusMessage, createdAt: now, lastUpdatedAt: now, ttlMs: this.ttlMs, pollIntervalMs: this.pollIntervalMs },
      pending: new Map(),
      controller: new AbortController(),
      expiresAt: Date.now() + this.ttlMs,
      inputCounter: 0,
    };
    this.tasks.set(taskId, stored);
    const snapshot = this.snapshot(stored);
    this.emit(stored);
    void this.run(stored, work);
    return snapshot;
  }

  get(taskId: string): DetailedTask | undefined {
    const stored = this.tasks.get(taskId);
    return stored ? this.snapshot(stored) : undefined;
  }

  /** Cooperative cancel: a live task turns `cancelled` at once and its work is aborted; a terminal one is left as is. */
  cancel(taskId: string): boolean {
    const stored = this.tasks.get(taskId);
    if (!stored) return false;
    if (isTerminal(stored.task.status)) return true;
    this.settle(stored, { status: "cancelled", statusMessage: "Cancelled by the client." });
    return true;
  }

  /**
   * Delivers answers to outstanding input requests; keys that are not outstanding are ignored,
   * and a partial answer leaves the task `input_required` with only the unanswered keys.
   */
  update(taskId: string, inputResponses: JsonObject): boolean {
    const stored = this.tasks.get(taskId);
    if (!stored) return false;
    let answered = 0;
    for (const [key, response] of Object.entries(inputResponses)) {
      const pending = stored.pending.get(key);
      if (!pending || typeof response !== "object" || response === null || Array.isArray(response)) continue;
      stored.pending.delete(key);
      pending.resolve(response as JsonObject);
      answered++;
    }
    if (answered > 0 && !isTerminal(stored.task.status)) {
      this.change(stored, stored.pending.size > 0 ? { status: "input_required" } : { status: "working", statusMessage: "Resumed with the client's input." });
    }
    return true;
  }

  /** Listens to every change of every task (status, message, outstanding inputs, outcome). */
  subscribe(listener: TaskListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const stored of this.tasks.values()) stored.controller.abort(new Error("origin closing"));
    this.tasks.clear();
    this.listeners.clear();
  }

  private async run(stored: StoredTask, work: TaskWork): Promise<void> {
    const context: TaskContext = {
      taskId: stored.task.taskId,
      signal: stored.controller.signal,
      setStatusMessage: (statusMessage) => {
        if (!isTerminal(stored.task.status)) this.change(stored, { statusMessage });
      },
      requestInput: (request, keyPrefix = "input") => this.requestInput(stored, request, keyPrefix),
    };
    try {
      const result = await work(context);
      this.settle(stored, { status: "completed", statusMessage: "The operation completed.", result: { ...result, resultType: "complete" } });
    } catch (error) {
      const rpc = error instanceof RpcError ? error : new RpcError(ErrorCode.InternalError, `Internal error: ${(error as Error).message}`);
      this.settle(stored, { status: "failed", statusMessage: rpc.message, error: rpc.toJSON() });
    }
  }

  private requestInput(stored: StoredTask, request: JsonObject, keyPrefix: string): Promise<JsonObject> {
    if (isTerminal(stored.task.status)) return Promise.reject(new Error("task is no longer running"));
    // Keys are unique over the task's lifetime and never reused.
    const key = `${keyPrefix}-${++stored.inputCounter}`;
    return new Promise((resolve, reject) => {
      stored.pending.set(key, { request, resolve, reject });
      this.change(stored, { status: "input_required", statusMessage: "Waiting for input from the client." });
    });
  }

  /** Ends a task once; later outcomes (work finishing after a cancel) are ignored. */
  private settle(stored: StoredTask, outcome: Partial<DetailedTask> & { status: TaskStatus }): void {
    if (isTerminal(stored.task.status)) return;
    for (const pending of stored.pending.values()) pending.reject(new Error(`task ${outcome.status}`));
    stored.pending.clear();
    if (outcome.status !== "completed") stored.controller.abort(new Error(`task ${outcome.status}`));
    this.change(stored, outcome);
  }

  private change(stored: StoredTask, patch: Partial<DetailedTask>): void {
    Object.assign(stored.task, patch, { lastUpdatedAt: isoNow() });
    this.emit(stored);
  }

  private emit(stored: StoredTask): void {
    if (this.listeners.size === 0) return;
    const snapshot = this.snapshot(stored);
    for (const listener of this.listeners) listener(snapshot);
  }

  /** The DetailedTask as the wire shows it: only the fields its status carries. */
  private snapshot(stored: StoredTask): DetailedTask {
    const { result, error, inputRequests: _unused, ...base } = stored.task;
    const task: DetailedTask = { ...base };
    if (task.status === "completed" && result) task.result = structuredClone(result);
    if (task.status === "failed" && error) task.error = structuredClone(error);
    if (task.status === "input_required") {
      task.inputRequests = Object.fromEntries([...stored.pending].map(([key, pending]) => [key, structuredClone(pending.request)]));
    }
    return task;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [taskId, stored] of this.tasks) {
      if (stored.expiresAt > now) continue;
      stored.controller.abort(new Error("task expired"));
      for (const pending of stored.pending.values()) pending.reject(new Error("task expired"));
      this.tasks.delete(taskId);
    }
  }
}
