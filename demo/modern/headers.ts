/**
 * 2026-07-28 Streamable HTTP request headers (SEP-2243): `MCP-Protocol-Version`, `Mcp-Method`,
 * `Mcp-Name` and `Mcp-Param-*` must agree with the JSON-RPC body; any disagreement is
 * HTTP 400 + -32020 (HeaderMismatch). Values may be sent as `=?base64?…?=` (Base64 of UTF-8).
 */
import type { IncomingHttpHeaders } from "node:http";
import {
  headerMismatch,
  isObject,
  MCP_METHOD_HEADER,
  MCP_NAME_HEADER,
  MCP_PARAM_HEADER_PREFIX,
  type JsonObject,
} from "./protocol.js";

const ENCODED_VALUE = /^=\?base64\?(.*)\?=$/s;
/** Canonical Base64 only: the alphabet, and padding exactly as long as it must be. */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A header value sent as is must be visible ASCII (and inner spaces); anything else must be encoded. */
const PLAIN_VALUE = /^[\x20-\x7e]*$/;

/** The first value of a header, trimmed of optional whitespace (RFC 9110 §5.5). */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim();
}

/**
 * Decodes a header value: `=?base64?X?=` is X decoded as Base64 then UTF-8 (strictly: bad
 * padding, a stray character or invalid UTF-8 is a mismatch); anything else is taken literally.
 */
export function decodeHeaderValue(name: string, raw: string): string {
  const match = ENCODED_VALUE.exec(raw);
  if (!match) {
    if (!PLAIN_VALUE.test(raw)) throw headerMismatch(`${name} contains characters that must be sent =?base64?…?= encoded`);
    return raw;
  }
  const encoded = match[1]!;
  if (!STRICT_BASE64.test(encoded)) throw headerMismatch(`${name} is not valid Base64 inside =?base64?…?=`);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Buffer.from(encoded, "base64"));
  } catch {
    throw headerMismatch(`${name} does not decode to UTF-8`);
  }
}

/** Encodes a value for a 2026-07-28 header: plain when it is safe visible ASCII, `=?base64?…?=` otherwise. */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !ENCODED_VALUE.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/** The body value `Mcp-Name` mirrors, for the methods that carry one. */
export function mcpNameSource(method: string, params: JsonObject): { field: string; value: unknown } | undefined {
  switch (method) {
    case "tools/call":
    case "prompts/get":
      return { field: "params.name", value: params.name };
    case "resources/read":
      return { field: "params.uri", value: params.uri };
    case "tasks/get":
    case "tasks/update":
    case "tasks/cancel":
      return { field: "params.taskId", value: params.taskId };
    default:
      return undefined;
  }
}

export interface RoutingHeaderOptions {
  /**
   * Refuse tasks/get|update|cancel that omit `Mcp-Name`. The extension says clients MUST send it,
   * but TS-SDK clients before typescript-sdk#2613 did not, so by default a *missing* Mcp-Name on
   * those three is tolerated; a *mismatching* one is always refused.
   */
  requireTaskMcpName: boolean;
}

/** `Mcp-Method` (every request) and `Mcp-Name` (methods that name something) against the body. */
export function checkRoutingHeaders(headers: IncomingHttpHeaders, method: string, params: JsonObject, options: RoutingHeaderOptions): void {
  const methodHeader = headerOf(headers, MCP_METHOD_HEADER);
  if (methodHeader === undefined) throw headerMismatch("the Mcp-Method header is missing");
  const headerMethod = decodeHeaderValue("Mcp-Method", methodHeader);
  if (headerMethod !== method) throw headerMismatch(`Mcp-Method header value '${headerMethod}' does not match body method '${method}'`);

  const source = mcpNameSource(method, params);
  if (!source) return;
  const nameHeader = headerOf(headers, MCP_NAME_HEADER);
  if (nameHeader === undefined) {
    const tolerated = method.startsWith("tasks/") && !options.requireTaskMcpName;
    if (source.value !== undefined && !tolerated) throw headerMismatch(`the Mcp-Name header is missing (body ${source.field} is present)`);
    return;
  }
  const headerName = decodeHeaderValue("Mcp-Name", nameHeader);
  if (headerName !== source.value) {
    throw headerMismatch(`Mcp-Name header value '${headerName}' does not match body ${source.field} '${String(source.value ?? "(absent)")}'`);
  }
}

/** A tool argument mirrored into a header by `x-mcp-header` in the tool's inputSchema. */
interface ParamHeader {
  argument: string;
  header: string;
  type: unknown;
}

function paramHeadersOf(inputSchema: JsonObject): ParamHeader[] {
  const properties = isObject(inputSchema.properties) ? inputSchema.properties : {};
  const mirrored: ParamHeader[] = [];
  for (const [argument, schema] of Object.entries(properties)) {
    if (isObject(schema) && typeof schema["x-mcp-header"] === "string") mirrored.push({ argument, header: schema["x-mcp-header"], type: schema.type });
  }
  return mirrored;
}

function sameValue(headerValue: string, bodyValue: unknown, type: unknown): boolean {
  if (typeof bodyValue === "string") return headerValue === bodyValue;
  if (typeof bodyValue === "boolean") return headerValue === String(bodyValue);
  // Integers compare numerically, so "042" and 42 agree.
  if (typeof bodyValue === "number" && type === "integer") return headerValue.trim() !== "" && Number(headerValue) === bodyValue;
  return headerValue === String(bodyValue);
}

/** `Mcp-Param-{Name}` for each `x-mcp-header` argument present in the call: present, decodable, equal. */
export function checkParamHeaders(headers: IncomingHttpHeaders, inputSchema: JsonObject, args: JsonObject): void {
  for (const { argument, header, type } of paramHeadersOf(inputSchema)) {
    const bodyValue = args[argument];
    const headerName = `Mcp-Param-${header}`;
    const raw = headerOf(headers, `${MCP_PARAM_HEADER_PREFIX}${header}`);
    if (bodyValue === undefined || bodyValue === null) {
      if (raw !== undefined) throw headerMismatch(`${headerName} is set but arguments.${argument} is absent`);
      continue;
    }
    if (raw === undefined) throw headerMismatch(`the ${headerName} header is missing (arguments.${argument} is present)`);
    const value = decodeHeaderValue(headerName, raw);
    if (!sameValue(value, bodyValue, type)) throw headerMismatch(`${headerName} header value '${value}' does not match arguments.${argument}`);
  }
}
