/**
 * The demo origin: one MCP endpoint serving two protocol eras side by side, and verifying
 * taskward's per-call origin assertion (and, in compatibility mode, the task handle) on every
 * call, as a real origin behind taskward would.
 *
 * - MCP 2025-11-25 through the official SDK (Streamable HTTP, stateful sessions, `initialize`,
 *   the experimental tasks utility): its tools exercise every task mode.
 * - MCP 2026-07-28 (stateless, `server/discover`, per-request `_meta`) with the
 *   `io.modelcontextprotocol/tasks` extension, implemented in `demo/modern/` (the SDK does not
 *   speak it yet): a POST whose MCP-Protocol-Version header (or `_meta` protocol version) says
 *   2026-07-28 goes there; everything else (initialize, Mcp-Session-Id, older versions) goes to
 *   the SDK unchanged.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { InMemoryTaskMessageQueue } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import { isInitializeRequest, RELATED_TASK_META_KEY } from "@modelcontextprotocol/sdk/types.js";
import type { JSONWebKeySet } from "jose";
import { ORIGIN_ASSERTION_HEADER, OriginAssertionError, TASK_HANDLE_HEADER, verifyOriginAssertion, type VerifyOriginAssertionOptions } from "../src/origin/index.js";
import { handleAllows, handlesOf, LEGACY_GUARDED_METHODS, type HandleGuard } from "./guard.js";
import { legacyTaskSource } from "./legacy/dual-serving.js";
import { createEventStore, FIXTURE_CAPABILITIES, registerConformanceFixtures } from "./legacy/fixtures.js";
import { CancellableTaskStore } from "./legacy/task-store.js";
import { registerTools } from "./legacy/tools.js";
import { createModernOrigin, isModernRequest } from "./modern/handler.js";
import { MODERN_VERSION } from "./modern/protocol.js";

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
  /**
   * Verify taskward's per-call origin assertion (`Taskward-Origin-Assertion`) with
   * `taskward/origin`: every POST needs a fresh one for its exact body, operation and task, else
   * 403. Omit to accept calls without one.
   */
  assertionVerification?: {
    issuer: string;
    /** Default: this server's own MCP URL. */
    audience?: string;
    jwks: JSONWebKeySet | URL;
    /** Oldest assertion accepted (default 60 s). */
    maxAgeSeconds?: number;
    /** Clock skew tolerated (default 5 s). */
    clockToleranceSeconds?: number;
    /** Default true. False lets calls without an assertion through (the origin alone, without taskward); a present one must still verify. */
    required?: boolean;
  };
  /**
   * Also register the MCP conformance suite's fixtures on the 2025-11-25 (SDK) path: its
   * `tools-call-*` tools, resources, prompts, logging, completion, and an event store so SSE
   * streams resume (SEP-1699). Default false: the SDK path offers the demo's five tools only.
   * (The 2026-07-28 mode always has its fixtures.)
   */
  conformanceFixtures?: boolean;
  /** Settings of the 2026-07-28 mode. */
  modern?: {
    /** Task lifetime from creation; default 5 minutes. */
    taskTtlMs?: number;
    /** Suggested polling interval; default 200 ms. */
    pollIntervalMs?: number;
    /** Longest a subscriptions/listen stream stays open; default 5 minutes. */
    listenMaxMs?: number;
    /** Refuse tasks/get|update|cancel without Mcp-Name (default: tolerated when missing, refused when wrong). */
    requireTaskMcpName?: boolean;
  };
  /** Serve one protocol revision only (400 for the other's calls), as `npm start` runs one origin per revision. Default: both. */
  revision?: "2025-11-25" | "2026-07-28";
  /** Refuse requests whose Host or Origin is not loopback (DNS rebinding). Default: on when `host` is loopback. */
  dnsRebindingProtection?: boolean;
}

/** One JSON-RPC message as the demo received it (refused follow-ups included), for tests to inspect. */
export interface ReceivedMessage {
  at: number;
  method?: string;
  id?: unknown;
  taskId?: string;
  handle?: string;
  sessionId?: string;
  /** The User-Agent as received (tests tag requests with it). */
  userAgent?: string;
  /** The request's params as received, so tests can see exactly what taskward forwarded. */
  params?: Record<string, unknown>;
  /** The MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, raw, when present. */
  protocolVersion?: string;
  mcpMethod?: string;
  mcpName?: string;
  /** The origin assertion's verdict, when assertions are verified: its claims, or the refusal code. */
  assertion?: { jti: string; txn: string; op: string; task?: string; handleJti?: string; sub: string } | { refused: string };
  /** The raw Taskward-Origin-Assertion and body text, when assertions are verified (for replay tests). */
  assertionToken?: string;
  bodyText?: string;
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
const MAX_BODY_BYTES = 1024 * 1024;
const INVALID_PARAMS = -32602;
const SERVER_INFO = { name: "taskward-demo-origin", version: "0.1.0" };
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function createMcpServer(store: CancellableTaskStore, queue: InMemoryTaskMessageQueue, fixtures: boolean): McpServer {
  const capabilities = { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } }, ...(fixtures ? FIXTURE_CAPABILITIES : {}) };
  const server = new McpServer(SERVER_INFO, { capabilities, taskStore: store, taskMessageQueue: queue });
  registerTools(server, store);
  if (fixtures) registerConformanceFixtures(server);
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

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
  const userAgent = headerValue(req, "user-agent");
  if (userAgent !== undefined) entry.userAgent = userAgent;
  const params = asRecord(message.params);
  if (params) entry.params = params;
  const protocolVersion = headerValue(req, "mcp-protocol-version");
  if (protocolVersion !== undefined) entry.protocolVersion = protocolVersion;
  const mcpMethod = headerValue(req, "mcp-method");
  if (mcpMethod !== undefined) entry.mcpMethod = mcpMethod;
  const mcpName = headerValue(req, "mcp-name");
  if (mcpName !== undefined) entry.mcpName = mcpName;
  return entry;
}

/**
 * The JSON-RPC errors for 2025-11-25 follow-ups the handle does not allow, answered as "Task not
 * found". A batch (no longer part of MCP) with any refused follow-up is refused whole.
 */
async function refusals(guard: HandleGuard, messages: unknown[], handles: string[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const value of messages) {
    const message = asRecord(value);
    const taskId = message ? asRecord(message.params)?.taskId : undefined;
    if (!message || typeof message.method !== "string" || !LEGACY_GUARDED_METHODS.has(message.method) || typeof taskId !== "string") continue;
    if (!(await handleAllows(guard, taskId, handles))) errors.push(jsonRpcError(message.id, INVALID_PARAMS, "Task not found"));
  }
  return errors;
}

/** DNS-rebinding defence for a loopback server: Host (and Origin, when sent) must name a loopback host. */
function fromLoopback(req: IncomingMessage): boolean {
  const hostname = (value: string): string | undefined => {
    try {
      return new URL(value).hostname.toLowerCase();
    } catch {
      return undefined;
    }
  };
  const host = headerValue(req, "host");
  if (host === undefined || !LOOPBACK_HOSTS.has(hostname(`http://${host}`) ?? "")) return false;
  const origin = headerValue(req, "origin");
  return origin === undefined || LOOPBACK_HOSTS.has(hostname(origin) ?? "");
}

export async function startDemoOrigin(options: DemoOriginOptions = {}): Promise<DemoOrigin> {
  const host = options.host ?? "127.0.0.1";
  const fixtures = options.conformanceFixtures ?? false;
  const dnsRebindingProtection = options.dnsRebindingProtection ?? LOOPBACK_HOSTS.has(host);
  // One store for the whole process, so a task outlives the HTTP connection that created it. Alone,
  // the SDK binds each task to the session that created it; behind taskward (assertions or handles verified) the
  // authority binds handles to principals and sessions, so a task is reachable from any session.
  const store = new CancellableTaskStore({ sessionScoped: !options.handleVerification && !options.assertionVerification });
  const queue = new InMemoryTaskMessageQueue();
  const eventStore = fixtures ? createEventStore() : undefined;
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const received: ReceivedMessage[] = [];
  const guard: HandleGuard = { requireHandle: options.requireHandle ?? false };
  /** Set once the port is known (the default audience is this server's URL). */
  let assertionOptions: VerifyOriginAssertionOptions | undefined;
  const assertionRequired = options.assertionVerification?.required ?? true;
  const modern = createModernOrigin({
    serverInfo: SERVER_INFO,
    ...options.modern,
    authorizeTask: (taskId, req, method) => handleAllows(guard, taskId, handlesOf(req, method === "subscriptions/listen")),
    legacyTasks: legacyTaskSource(store),
  });

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
      ...(eventStore ? { eventStore, retryInterval: 1000 } : {}),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await createMcpServer(store, queue, fixtures).connect(transport);
    await transport.handleRequest(req, res, body);
  }

  function servesRevision(modern: boolean): boolean {
    return options.revision === undefined || options.revision === (modern ? MODERN_VERSION : "2025-11-25");
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    let bytes: Buffer;
    try {
      bytes = await readBody(req);
      body = JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      return sendJson(res, 400, jsonRpcError(null, -32700, `Parse error: ${(error as Error).message}`));
    }
    const messages = Array.isArray(body) ? body : [body];
    const entries = messages.map((message) => describe(message, req));
    received.push(...entries);
    if (!servesRevision(isModernRequest(req.headers, body))) return sendJson(res, 400, jsonRpcError(asRecord(body)?.id ?? null, -32600, `This demo origin serves MCP ${options.revision} only`));

    if (assertionOptions && (assertionRequired || headerValue(req, ORIGIN_ASSERTION_HEADER) !== undefined)) {
      const verdict = await verifyOriginAssertion(headerValue(req, ORIGIN_ASSERTION_HEADER), { body: bytes, message: body }, assertionOptions).then(
        (claims) => ({ jti: claims.jti, txn: claims.txn, op: claims.op, sub: claims.sub, ...(claims.task ? { task: claims.task } : {}), ...(claims.handle_jti ? { handleJti: claims.handle_jti } : {}) }),
        (error: unknown) => ({ refused: error instanceof OriginAssertionError ? error.code : "ERR_ASSERTION_INVALID" }),
      );
      const token = headerValue(req, ORIGIN_ASSERTION_HEADER);
      for (const entry of entries) Object.assign(entry, { assertion: verdict, bodyText: bytes.toString("utf8") }, token === undefined ? {} : { assertionToken: token });
      if ("refused" in verdict) {
        const id = asRecord(body)?.id;
        return sendJson(res, 403, { jsonrpc: "2.0", id: id ?? null, error: { code: -32001, message: "Forbidden: no valid taskward origin assertion for this call", data: { code: verdict.refused } } });
      }
    }

    // 2026-07-28: stateless; validation, capability gates and handle checks happen in its own order.
    if (isModernRequest(req.headers, body)) return modern.handlePost(req, res, body);

    const refused = await refusals(guard, messages, handlesOf(req));
    if (refused.length > 0) return sendJson(res, 200, Array.isArray(body) ? refused : refused[0]);

    const sessionId = headerValue(req, "mcp-session-id");
    const transport = sessionId ? sessions.get(sessionId) : undefined;
    if (transport) return transport.handleRequest(req, res, body);
    if (!sessionId && isInitializeRequest(body)) return openSession(req, res, body);
    if (sessionId) return sendJson(res, 404, jsonRpcError(null, -32001, "Session not found"));
    return sendJson(res, 400, jsonRpcError(null, -32000, "Bad Request: no valid session id"));
  }

  /** GET opens the session's SSE stream; DELETE ends the session. Neither exists in 2026-07-28 (405). */
  async function handleSessionRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!servesRevision(headerValue(req, "mcp-protocol-version") === MODERN_VERSION)) return sendJson(res, 400, jsonRpcError(null, -32600, `This demo origin serves MCP ${options.revision} only`));
    if (headerValue(req, "mcp-protocol-version") === MODERN_VERSION) return modern.handleOther(req, res);
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
    if (dnsRebindingProtection && !fromLoopback(req)) return sendJson(res, 403, jsonRpcError(null, -32000, "Forbidden: Host or Origin is not this loopback server"));
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
  if (options.assertionVerification) {
    const { issuer, audience, jwks, maxAgeSeconds, clockToleranceSeconds } = options.assertionVerification;
    assertionOptions = { issuer, audience: audience ?? url, jwks, maxAgeSeconds, clockToleranceSeconds };
  }

  async function close(): Promise<void> {
    modern.close();
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
