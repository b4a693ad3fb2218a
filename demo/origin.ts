/**
 * The demo origin: an MCP server (official SDK, Streamable HTTP, stateful sessions) whose tools
 * exercise every MCP 2025-11-25 task mode, and which re-verifies the taskward task handle on
 * every task follow-up, as a real origin behind taskward would.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { InMemoryTaskMessageQueue, InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import type { CreateTaskRequestHandlerExtra, TaskRequestHandlerExtra } from "@modelcontextprotocol/sdk/experimental/tasks/interfaces.js";
import type { CreateTaskResult } from "@modelcontextprotocol/sdk/experimental/tasks/types.js";
import { isInitializeRequest, RELATED_TASK_META_KEY, type CallToolResult, type Task } from "@modelcontextprotocol/sdk/types.js";
import type { JSONWebKeySet } from "jose";
import * as z from "zod";
import { TASK_HANDLE_HEADER, verifyTaskHandle } from "../src/origin/index.js";

export interface DemoOriginOptions {
  /** 0 = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Omit to run without verifying handles (the origin alone, without taskward). */
  handleVerification?: {
    issuer: string;
    /** Default: this server's own MCP URL, http://host:port/mcp. */
    audience?: string;
    jwks: JSONWebKeySet | URL;
  };
  /** Refuse task follow-ups that carry no handle header at all. */
  requireHandle?: boolean;
}

/** One JSON-RPC message as the demo received it (refused follow-ups included), for tests to inspect. */
export interface ReceivedMessage {
  at: number;
  method?: string;
  id?: unknown;
  taskId?: string;
  handle?: string;
  sessionId?: string;
  /** The request's params as received, so tests can see exactly what taskward forwarded. */
  params?: Record<string, unknown>;
}

export interface DemoOrigin {
  /** e.g. http://127.0.0.1:12345/mcp */
  url: string;
  port: number;
  received: ReceivedMessage[];
  close(): Promise<void>;
}

const MCP_PATH = "/mcp";
/** Test-only introspection of `received`: GET lists, DELETE clears. Served on loopback only. */
const RECEIVED_PATH = "/__demo/received";
const DEFAULT_TTL_MS = 60_000;
const POLL_INTERVAL_MS = 200;
const MAX_BODY_BYTES = 1024 * 1024;
/** Follow-ups that name a task in params.taskId and so must carry a handle for that task. */
const GUARDED_METHODS = new Set(["tasks/get", "tasks/result", "tasks/cancel"]);
const INVALID_PARAMS = -32602;

/**
 * The SDK's in-memory store, plus an AbortSignal per running task: the SDK's tasks/cancel handler
 * only flips the stored status, so this is how the work itself learns to stop.
 */
class CancellableTaskStore extends InMemoryTaskStore {
  private readonly running = new Map<string, AbortController>();

  signalFor(taskId: string): AbortSignal {
    const controller = new AbortController();
    this.running.set(taskId, controller);
    return controller.signal;
  }

  release(taskId: string): void {
    this.running.delete(taskId);
  }

  override async updateTaskStatus(taskId: string, status: Task["status"], statusMessage?: string, sessionId?: string): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId);
    if (status === "cancelled") this.running.get(taskId)?.abort(new Error("task cancelled"));
  }

  override cleanup(): void {
    for (const controller of this.running.values()) controller.abort(new Error("origin closing"));
    this.running.clear();
    super.cleanup();
  }
}

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

function registerTools(server: McpServer, store: CancellableTaskStore): void {
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

function createMcpServer(store: CancellableTaskStore, queue: InMemoryTaskMessageQueue): McpServer {
  const server = new McpServer(
    { name: "taskward-demo-origin", version: "0.1.0" },
    { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore: store, taskMessageQueue: queue },
  );
  registerTools(server, store);
  return server;
}

// ---- HTTP ----

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function jsonRpcError(id: unknown, code: number, message: string): unknown {
  return { jsonrpc: "2.0", id: id ?? null, error: { code, message } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** params.taskId (follow-ups), else the related-task _meta (messages about a task). */
function taskIdOf(message: Record<string, unknown>): string | undefined {
  const params = asRecord(message.params);
  if (typeof params?.taskId === "string") return params.taskId;
  const related = asRecord(asRecord(params?._meta)?.[RELATED_TASK_META_KEY]);
  return typeof related?.taskId === "string" ? related.taskId : undefined;
}

function describe(value: unknown, req: IncomingMessage): ReceivedMessage {
  const message = asRecord(value) ?? {};
  const entry: ReceivedMessage = { at: Date.now() };
  if (typeof message.method === "string") entry.method = message.method;
  if ("id" in message) entry.id = message.id;
  const taskId = taskIdOf(message);
  if (taskId !== undefined) entry.taskId = taskId;
  const handle = headerValue(req, TASK_HANDLE_HEADER);
  if (handle !== undefined) entry.handle = handle;
  const sessionId = headerValue(req, "mcp-session-id");
  if (sessionId !== undefined) entry.sessionId = sessionId;
  const params = asRecord(message.params);
  if (params) entry.params = params;
  return entry;
}

interface HandleGuard {
  verification?: { issuer: string; audience: string; jwks: JSONWebKeySet | URL };
  requireHandle: boolean;
}

/** True when a guarded follow-up may reach the SDK: its handle verifies and names this very task. */
async function handleAllows(guard: HandleGuard, taskId: string, handle: string | undefined): Promise<boolean> {
  if (handle === undefined) return !guard.requireHandle;
  if (!guard.verification) return true;
  try {
    const claims = await verifyTaskHandle(handle, guard.verification);
    return claims.task === taskId;
  } catch {
    return false;
  }
}

/**
 * The JSON-RPC errors for follow-ups the handle does not allow, answered as "Task not found" so a
 * caller learns nothing about tasks it holds no handle for. A batch (no longer part of MCP) with
 * any refused follow-up is refused whole.
 */
async function refusals(guard: HandleGuard, messages: unknown[], handle: string | undefined): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const value of messages) {
    const message = asRecord(value);
    const taskId = message ? asRecord(message.params)?.taskId : undefined;
    if (!message || typeof message.method !== "string" || !GUARDED_METHODS.has(message.method) || typeof taskId !== "string") continue;
    if (!(await handleAllows(guard, taskId, handle))) errors.push(jsonRpcError(message.id, INVALID_PARAMS, "Task not found"));
  }
  return errors;
}

export async function startDemoOrigin(options: DemoOriginOptions = {}): Promise<DemoOrigin> {
  const host = options.host ?? "127.0.0.1";
  // One store for the whole process, so a task outlives the HTTP connection that created it; the
  // SDK still binds each task to the session that created it.
  const store = new CancellableTaskStore();
  const queue = new InMemoryTaskMessageQueue();
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const received: ReceivedMessage[] = [];
  const guard: HandleGuard = { requireHandle: options.requireHandle ?? false };

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await createMcpServer(store, queue).connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      return sendJson(res, 400, jsonRpcError(null, -32700, `Parse error: ${(error as Error).message}`));
    }
    const messages = Array.isArray(body) ? body : [body];
    received.push(...messages.map((message) => describe(message, req)));

    const refused = await refusals(guard, messages, headerValue(req, TASK_HANDLE_HEADER));
    if (refused.length > 0) return sendJson(res, 200, Array.isArray(body) ? refused : refused[0]);

    const sessionId = headerValue(req, "mcp-session-id");
    const transport = sessionId ? sessions.get(sessionId) : undefined;
    if (transport) return transport.handleRequest(req, res, body);
    if (!sessionId && isInitializeRequest(body)) return openSession(req, res, body);
    if (sessionId) return sendJson(res, 404, jsonRpcError(null, -32001, "Session not found"));
    return sendJson(res, 400, jsonRpcError(null, -32000, "Bad Request: no valid session id"));
  }

  /** GET opens the session's SSE stream; DELETE ends the session. */
  async function handleSessionRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = headerValue(req, "mcp-session-id");
    const transport = sessionId ? sessions.get(sessionId) : undefined;
    if (!sessionId) return sendJson(res, 400, jsonRpcError(null, -32000, "Bad Request: missing session id"));
    if (!transport) return sendJson(res, 404, jsonRpcError(null, -32001, "Session not found"));
    return transport.handleRequest(req, res);
  }

  function handleReceived(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === "GET") return sendJson(res, 200, received);
    if (req.method === "DELETE") {
      received.length = 0;
      return void res.writeHead(204).end();
    }
    res.writeHead(405, { allow: "GET, DELETE" }).end();
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://origin").pathname;
    if (path === RECEIVED_PATH) return handleReceived(req, res);
    if (path !== MCP_PATH) return void res.writeHead(404).end();
    if (req.method === "POST") return handlePost(req, res);
    if (req.method === "GET" || req.method === "DELETE") return handleSessionRequest(req, res);
    res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, jsonRpcError(null, -32603, `Internal error: ${(error as Error).message}`));
      else res.end();
    });
  });
  const port = await listen(server, options.port ?? 0, host);
  const url = `http://${host}:${port}${MCP_PATH}`;
  if (options.handleVerification) {
    const { issuer, audience, jwks } = options.handleVerification;
    guard.verification = { issuer, audience: audience ?? url, jwks };
  }

  async function close(): Promise<void> {
    await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
    store.cleanup();
    // Open SSE streams would otherwise keep server.close() waiting.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  }

  return { url, port, received, close };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
