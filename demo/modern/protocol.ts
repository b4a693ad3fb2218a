/**
 * MCP 2026-07-28 wire vocabulary for the demo origin's stateless mode: versions, `_meta` keys,
 * error codes and their HTTP statuses, and small JSON helpers. No SDK types: the official TS SDK
 * does not speak this revision yet.
 */

export type JsonObject = Record<string, unknown>;
export type RequestId = string | number;

/** The revision this mode serves statelessly. */
export const MODERN_VERSION = "2026-07-28";
/** What `server/discover` advertises: this revision, and 2025-11-25 through `initialize` (the SDK path). */
export const SUPPORTED_VERSIONS: readonly string[] = [MODERN_VERSION, "2025-11-25"];
/** Revisions negotiated with `initialize`; a request naming one of these is never served statelessly. */
export const INITIALIZE_ERA_VERSIONS: ReadonlySet<string> = new Set(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]);

export const META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion";
export const META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
export const META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo";
export const META_SERVER_INFO = "io.modelcontextprotocol/serverInfo";
export const META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";
export const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel";
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

export const PROTOCOL_VERSION_HEADER = "mcp-protocol-version";
export const MCP_METHOD_HEADER = "mcp-method";
export const MCP_NAME_HEADER = "mcp-name";
export const MCP_PARAM_HEADER_PREFIX = "mcp-param-";

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

/** A JSON-RPC error to answer with; `status` overrides the HTTP status derived from the code. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
    readonly status?: number,
  ) {
    super(message);
  }

  toJSON(): JsonObject {
    return { code: this.code, message: this.message, ...(this.data === undefined ? {} : { data: this.data }) };
  }
}

/**
 * HTTP status for a JSON-RPC error on the 2026-07-28 wire: 404 for an unknown method (SH26),
 * 500 for an internal error, 400 for every other refusal (header mismatch, missing capability,
 * unsupported version, invalid params — including an unknown task id, which the spec leaves open).
 */
export function httpStatusFor(code: number): number {
  if (code === ErrorCode.MethodNotFound) return 404;
  if (code === ErrorCode.InternalError) return 500;
  return 400;
}

export function headerMismatch(message: string): RpcError {
  return new RpcError(ErrorCode.HeaderMismatch, `Header mismatch: ${message}`);
}

export function invalidParams(message: string, data?: unknown): RpcError {
  return new RpcError(ErrorCode.InvalidParams, message, data);
}

/** -32021, naming the capability (a ClientCapabilities object) the request needed. */
export function missingCapability(requiredCapabilities: JsonObject): RpcError {
  return new RpcError(ErrorCode.MissingRequiredClientCapability, "Missing required client capability", { requiredCapabilities });
}

export function missingTasksExtension(): RpcError {
  return missingCapability({ extensions: { [TASKS_EXTENSION]: {} } });
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
}

export function rpcResult(id: RequestId, result: JsonObject): JsonObject {
  return { jsonrpc: "2.0", id, result };
}

export function rpcError(id: RequestId | null, error: RpcError): JsonObject {
  return { jsonrpc: "2.0", id, error: error.toJSON() };
}

export function rpcNotification(method: string, params: JsonObject): JsonObject {
  return { jsonrpc: "2.0", method, params };
}

/** Does this client capability set (from one request's `_meta`) include the tasks extension? */
export function declaresTasksExtension(capabilities: JsonObject): boolean {
  const extensions = capabilities.extensions;
  return isObject(extensions) && extensions[TASKS_EXTENSION] !== undefined && extensions[TASKS_EXTENSION] !== null;
}

export function isoNow(): string {
  return new Date().toISOString();
}
