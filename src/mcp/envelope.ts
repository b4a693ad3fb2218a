import { Refusal } from "../errors.js";

export type JsonObject = Record<string, unknown>;
export type RequestId = string | number;

/** A JSON-RPC message sent by a client (request, notification, or a response to a server request). */
export type ClientMessage =
  | { kind: "request"; id: RequestId; method: string; params: JsonObject | undefined; raw: JsonObject }
  | { kind: "notification"; method: string; params: JsonObject | undefined; raw: JsonObject }
  | { kind: "response"; id: RequestId; raw: JsonObject };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
}

/** Deepest JSON nesting accepted: far beyond real MCP messages, well short of what breaks parsers downstream. */
export const MAX_JSON_DEPTH = 100;

/** Iterative (no recursion to overflow) check of how deeply arrays and objects nest. */
function nestingDepthExceeds(root: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Parses and validates one JSON-RPC 2.0 message; batches and malformed envelopes are refused. */
export function parseClientMessage(body: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Refusal("parse_error");
  }
  if (Array.isArray(value)) throw new Refusal("batch_not_supported");

  if (!isObject(value)) throw new Refusal("invalid_request", "message is not a JSON object", "Not a valid JSON-RPC 2.0 message: expected an object");
  if (value.jsonrpc !== "2.0") throw new Refusal("invalid_request", "jsonrpc is not 2.0", 'Not a valid JSON-RPC 2.0 message: "jsonrpc" must be "2.0"');
  const hasId = "id" in value;
  if (hasId && !isRequestId(value.id)) {
    throw new Refusal("invalid_request", "bad id", 'Not a valid JSON-RPC 2.0 message: "id" must be a string or an integer');
  }
  if (nestingDepthExceeds(value, MAX_JSON_DEPTH)) {
    const refusal = new Refusal("invalid_request", "too deep", `Not a valid JSON-RPC 2.0 message: nested deeper than ${MAX_JSON_DEPTH} levels`);
    refusal.requestId = hasId ? (value.id as RequestId) : null;
    throw refusal;
  }
  if ("method" in value) {
    if (typeof value.method !== "string" || value.method.length === 0) {
      throw new Refusal("invalid_request", "bad method", 'Not a valid JSON-RPC 2.0 message: "method" must be a non-empty string');
    }
    if ("params" in value && !isObject(value.params)) {
      throw new Refusal("invalid_request", "bad params", 'Not a valid JSON-RPC 2.0 message: "params" must be an object');
    }
    const params = value.params as JsonObject | undefined;
    return hasId
      ? { kind: "request", id: value.id as RequestId, method: value.method, params, raw: value }
      : { kind: "notification", method: value.method, params, raw: value };
  }
  if (hasId && ("result" in value) !== ("error" in value)) {
    return { kind: "response", id: value.id as RequestId, raw: value };
  }
  throw new Refusal("invalid_request", "no method", 'Not a valid JSON-RPC 2.0 message: "method" is required');
}

/** The body of a JSON-RPC error response. */
export function rpcError(id: RequestId | null, code: number, message: string, data?: unknown): JsonObject {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}
