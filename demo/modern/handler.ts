/**
 * The demo origin's MCP 2026-07-28 mode: stateless Streamable HTTP (every POST carries its own
 * protocol version and client capabilities in `_meta`; no sessions, no initialize) with the
 * `io.modelcontextprotocol/tasks` extension. Validation order, each failure answered before the
 * next is looked at:
 *
 *   envelope (-32600) → MCP-Protocol-Version present (-32020) → required `_meta` (-32602)
 *   → header = `_meta` version (-32020) → version supported (-32022)
 *   → Mcp-Method / Mcp-Name (-32020) → method exists (404, -32601) → capability gates (-32021)
 *   → task authorization and lookup (-32602) → the method itself.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { complete, getPrompt, listPrompts, listResources, listResourceTemplates, readResourceResult, CACHE_HINTS } from "./catalog.js";
import { ResponseChannel, sendJson } from "./channel.js";
import { checkParamHeaders, checkRoutingHeaders, headerOf } from "./headers.js";
import { inputResponsesOf, RequestStates } from "./mrtr.js";
import {
  declaresTasksExtension,
  ErrorCode,
  headerMismatch,
  httpStatusFor,
  INITIALIZE_ERA_VERSIONS,
  invalidParams,
  isObject,
  isRequestId,
  META_CLIENT_CAPABILITIES,
  META_LOG_LEVEL,
  META_PROTOCOL_VERSION,
  META_SERVER_INFO,
  missingTasksExtension,
  MODERN_VERSION,
  PROTOCOL_VERSION_HEADER,
  rpcError,
  rpcResult,
  RpcError,
  SUPPORTED_VERSIONS,
  TASKS_EXTENSION,
  type JsonObject,
  type RequestId,
} from "./protocol.js";
import { SubscriptionHub, type AcceptedFilter } from "./subscriptions.js";
import { TaskStore, type DetailedTask } from "./task-store.js";
import { conformanceTools } from "./tools-conformance.js";
import { taskFixtureTools } from "./tools-tasks.js";
import { LOG_LEVELS, ToolRegistry, type LogLevel, type ToolContext } from "./tools.js";

/** Tasks created on the 2025-11-25 (SDK) path, which this mode keeps serving for tasks/get and tasks/cancel (SEP-2663 dual serving). */
export interface LegacyTaskSource {
  get(taskId: string): Promise<DetailedTask | undefined>;
  /** Cancels a live task; false when there is no such task. */
  cancel(taskId: string): Promise<boolean>;
}

export interface ModernOptions {
  serverInfo: { name: string; version: string };
  /** Lifetime of a task from creation (default 5 min). */
  taskTtlMs?: number;
  /** `pollIntervalMs` suggested to clients (default 200). */
  pollIntervalMs?: number;
  /** Longest a subscriptions/listen stream stays open (default 5 min). */
  listenMaxMs?: number;
  /** Refuse tasks/get|update|cancel without Mcp-Name (default: a missing one is tolerated, a wrong one never). */
  requireTaskMcpName?: boolean;
  /** May this request (`method`) act on `taskId`? false = "Task not found" (-32602), or left out of a listen acknowledgement. Default: yes. */
  authorizeTask?(taskId: string, req: IncomingMessage, method: string): Promise<boolean>;
  legacyTasks?: LegacyTaskSource;
}

export interface ModernOrigin {
  readonly tasks: TaskStore;
  /** A POST already routed to this mode, with its parsed body. */
  handlePost(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  /** GET / DELETE (and anything else): no standalone stream and no sessions in this revision. */
  handleOther(req: IncomingMessage, res: ServerResponse): void;
  close(): void;
}

/**
 * Does this POST speak 2026-07-28? Yes when its MCP-Protocol-Version header says so, or when it
 * has no session and is no `initialize` but carries a `_meta` protocol version of a stateless
 * revision (including unknown future ones, which then get -32022) or is `server/discover`.
 */
export function isModernRequest(headers: IncomingMessage["headers"], body: unknown): boolean {
  if (headerOf(headers, PROTOCOL_VERSION_HEADER) === MODERN_VERSION) return true;
  if (!isObject(body) || headerOf(headers, "mcp-session-id") !== undefined || body.method === "initialize") return false;
  if (body.method === "server/discover") return true;
  const meta = isObject(body.params) && isObject(body.params._meta) ? body.params._meta : undefined;
  const version = meta?.[META_PROTOCOL_VERSION];
  return typeof version === "string" && !INITIALIZE_ERA_VERSIONS.has(version);
}

/** What every method handler gets. */
interface Call {
  id: RequestId;
  method: string;
  params: JsonObject;
  meta: JsonObject;
  capabilities: JsonObject;
  declaresTasks: boolean;
  req: IncomingMessage;
  res: ServerResponse;
  channel: ResponseChannel;
}

/** Returned by a handler that wrote its own response (subscriptions/listen). */
const RESPONDED = Symbol("responded");
type Handler = (call: Call) => Promise<JsonObject | typeof RESPONDED>;

function taskIdOf(params: JsonObject): string {
  if (typeof params.taskId !== "string" || params.taskId.length === 0) throw invalidParams("Invalid params: params.taskId must be a non-empty string");
  return params.taskId;
}

const taskNotFound = (): RpcError => invalidParams("Task not found");

export function createModernOrigin(options: ModernOptions): ModernOrigin {
  const serverInfo: JsonObject = { ...options.serverInfo };
  const tasks = new TaskStore({ ttlMs: options.taskTtlMs, pollIntervalMs: options.pollIntervalMs });
  const hub = new SubscriptionHub(tasks, serverInfo, { maxMs: options.listenMaxMs });
  const tools = new ToolRegistry([...taskFixtureTools(), ...conformanceTools()]);
  const states = new RequestStates();
  const authorize = options.authorizeTask ?? (async () => true);
  const legacy = options.legacyTasks;

  const capabilities: JsonObject = {
    tools: { listChanged: true },
    resources: {},
    prompts: { listChanged: true },
    completions: {},
    logging: {},
    extensions: { [TASKS_EXTENSION]: {} },
  };

  /**
   * The task a tasks/get|update|cancel names, after the capability gate: a declaring client may
   * reach any task; a non-declaring one only a task created on the 2025-11-25 path (dual serving,
   * not for tasks/update) — anything else is -32021, decided before the id is looked up.
   */
  async function findTask(call: Call, allowLegacy: boolean): Promise<{ taskId: string; modern?: DetailedTask; legacy?: DetailedTask }> {
    if (!call.declaresTasks) {
      const taskId = typeof call.params.taskId === "string" ? call.params.taskId : undefined;
      const legacyTask = allowLegacy && taskId !== undefined ? await legacy?.get(taskId) : undefined;
      if (taskId === undefined || !legacyTask || !(await authorize(taskId, call.req, call.method))) throw missingTasksExtension();
      return { taskId, legacy: legacyTask };
    }
    const taskId = taskIdOf(call.params);
    if (!(await authorize(taskId, call.req, call.method))) throw taskNotFound();
    const modern = tasks.get(taskId);
    if (modern) return { taskId, modern };
    const legacyTask = allowLegacy ? await legacy?.get(taskId) : undefined;
    if (legacyTask) return { taskId, legacy: legacyTask };
    throw taskNotFound();
  }

  function toolContext(call: Call, name: string): ToolContext {
    const level = call.meta[META_LOG_LEVEL];
    const threshold = typeof level === "string" ? LOG_LEVELS.indexOf(level as LogLevel) : -1;
    return {
      name,
      args: isObject(call.params.arguments) ? call.params.arguments : {},
      params: call.params,
      meta: call.meta,
      capabilities: call.capabilities,
      declaresTasks: call.declaresTasks,
      inputResponses: inputResponsesOf(call.params),
      requestState: call.params.requestState,
      states,
      signal: call.channel.signal,
      events: hub,
      notify: (notification) => call.channel.notify(notification),
      log: (logLevel, data) => {
        if (threshold >= 0 && LOG_LEVELS.indexOf(logLevel) >= threshold) {
          call.channel.notify({ jsonrpc: "2.0", method: "notifications/message", params: { level: logLevel, logger: options.serverInfo.name, data } });
        }
      },
    };
  }

  const methods: Record<string, Handler> = {
    "server/discover": async () => ({ supportedVersions: [...SUPPORTED_VERSIONS], capabilities: structuredClone(capabilities), ...CACHE_HINTS }),

    "tools/list": async () => ({ tools: tools.list(), ...CACHE_HINTS }),
    "tools/call": async (call) => {
      const name = call.params.name;
      if (typeof name !== "string") throw invalidParams("Invalid params: tools/call requires params.name");
      const tool = tools.get(name);
      if (!tool) throw invalidParams(`Invalid params: unknown tool ${name}`);
      const context = toolContext(call, name);
      checkParamHeaders(call.req.headers, tool.inputSchema, context.args);
      return tools.call(tool, context, tasks);
    },

    "resources/list": async () => listResources(),
    "resources/templates/list": async () => listResourceTemplates(),
    "resources/read": async (call) => readResourceResult(call.params),
    "prompts/list": async () => listPrompts(),
    "prompts/get": async (call) => getPrompt(call.params, call.capabilities),
    "completion/complete": async (call) => complete(call.params),

    "tasks/get": async (call) => {
      const found = await findTask(call, true);
      return { ...(found.modern ?? found.legacy), resultType: "complete" };
    },
    "tasks/update": async (call) => {
      const { taskId } = await findTask(call, false);
      const responses = inputResponsesOf(call.params);
      if (responses === undefined) throw invalidParams("Invalid params: tasks/update requires params.inputResponses");
      tasks.update(taskId, responses);
      return {};
    },
    "tasks/cancel": async (call) => {
      const found = await findTask(call, true);
      // Idempotent: a task already terminal gets the same empty acknowledgement.
      if (found.modern) tasks.cancel(found.taskId);
      else await legacy?.cancel(found.taskId);
      return {};
    },

    "subscriptions/listen": async (call) => {
      const requested = call.params.notifications;
      if (!isObject(requested)) throw invalidParams("Invalid params: subscriptions/listen requires params.notifications");
      const filter: AcceptedFilter = {};
      if (requested.toolsListChanged === true) filter.toolsListChanged = true;
      if (requested.promptsListChanged === true) filter.promptsListChanged = true;
      if (requested.taskIds !== undefined) {
        const ids = requested.taskIds;
        if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) throw invalidParams("Invalid params: notifications.taskIds must be an array of strings");
        if (!call.declaresTasks) throw missingTasksExtension();
        // The acknowledgement names the subset this server will notify about: known, and authorized.
        const known: string[] = [];
        for (const id of new Set(ids as string[])) if (tasks.get(id) && (await authorize(id, call.req, call.method))) known.push(id);
        filter.taskIds = known;
      }
      hub.listen(call.res, call.id, filter);
      return RESPONDED;
    },
  };

  /** The request's `_meta`, checked in the spec's order (see the module comment). */
  function validateEnvelope(req: IncomingMessage, method: string, params: JsonObject): { meta: JsonObject; capabilities: JsonObject } {
    const versionHeader = headerOf(req.headers, PROTOCOL_VERSION_HEADER);
    if (versionHeader === undefined) throw headerMismatch("the MCP-Protocol-Version header is missing");
    const meta = params._meta;
    if (!isObject(meta)) throw invalidParams("Invalid params: _meta with io.modelcontextprotocol/protocolVersion and io.modelcontextprotocol/clientCapabilities is required");
    const missing = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES].filter((key) => meta[key] === undefined);
    if (missing.length > 0) throw invalidParams(`Invalid params: missing _meta keys: ${missing.join(", ")}`);
    const version = meta[META_PROTOCOL_VERSION];
    const capabilities = meta[META_CLIENT_CAPABILITIES];
    if (typeof version !== "string") throw invalidParams("Invalid params: _meta protocolVersion must be a string");
    if (!isObject(capabilities)) throw invalidParams("Invalid params: _meta clientCapabilities must be an object");
    if (versionHeader !== version) throw headerMismatch(`MCP-Protocol-Version header value '${versionHeader}' does not match _meta protocolVersion '${version}'`);
    if (version !== MODERN_VERSION) {
      throw new RpcError(ErrorCode.UnsupportedProtocolVersion, "Unsupported protocol version", { supported: [...SUPPORTED_VERSIONS], requested: version });
    }
    checkRoutingHeaders(req.headers, method, params, { requireTaskMcpName: options.requireTaskMcpName ?? false });
    return { meta, capabilities };
  }

  /** Every result says what it is and who answered it. */
  function finalize(result: JsonObject): JsonObject {
    const meta = isObject(result._meta) ? result._meta : {};
    return { ...result, resultType: result.resultType ?? "complete", _meta: { ...meta, [META_SERVER_INFO]: serverInfo } };
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    if (Array.isArray(body)) return sendJson(res, 400, rpcError(null, new RpcError(ErrorCode.InvalidRequest, "Invalid Request: batches are not supported")));
    const id = isObject(body) && isRequestId(body.id) ? body.id : null;
    if (!isObject(body) || body.jsonrpc !== "2.0" || typeof body.method !== "string" || ("params" in body && !isObject(body.params))) {
      return sendJson(res, 400, rpcError(id, new RpcError(ErrorCode.InvalidRequest, "Invalid Request: not a JSON-RPC 2.0 request")));
    }
    // Notifications (no id) need no answer; 2026-07-28 clients send hardly any.
    if (!("id" in body)) return void res.writeHead(202).end();
    if (id === null) return sendJson(res, 400, rpcError(null, new RpcError(ErrorCode.InvalidRequest, 'Invalid Request: "id" must be a string or an integer')));

    const method = body.method;
    const params = isObject(body.params) ? body.params : {};
    const channel = ResponseChannel.for(req, res);
    try {
      const { meta, capabilities } = validateEnvelope(req, method, params);
      const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
      if (!handler) throw new RpcError(ErrorCode.MethodNotFound, `Method not found: ${method}`);
      const call: Call = { id, method, params, meta, capabilities, declaresTasks: declaresTasksExtension(capabilities), req, res, channel };
      const result = await handler(call);
      if (result !== RESPONDED) channel.finish(200, rpcResult(id, finalize(result)));
    } catch (error) {
      const rpc = error instanceof RpcError ? error : new RpcError(ErrorCode.InternalError, `Internal error: ${(error as Error).message}`);
      channel.finish(rpc.status ?? httpStatusFor(rpc.code), rpcError(id, rpc));
    }
  }

  function handleOther(_req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(405, { allow: "POST", "content-type": "application/json" });
    res.end(JSON.stringify(rpcError(null, new RpcError(ErrorCode.InvalidRequest, "Method Not Allowed: MCP 2026-07-28 is stateless; POST only"))));
  }

  function close(): void {
    hub.close();
    tasks.close();
  }

  return { tasks, handlePost, handleOther, close };
}
