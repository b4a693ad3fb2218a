import { Refusal } from "../errors.js";
import type { ClientMessage } from "./envelope.js";
import { MCP_NAME_HEADER } from "./headers.js";
import type { RevisionModule } from "./revisions/index.js";

export const MCP_METHOD_HEADER = "Mcp-Method";

const ENCODED_VALUE = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** Decodes a 2026-07-28 header value: `=?base64?…?=` is Base64 of UTF-8, anything else is literal. */
export function decodeHeaderValue(value: string): string {
  const match = ENCODED_VALUE.exec(value);
  if (!match) return value;
  try {
    const binary = atob(match[1]!);
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    throw new Refusal("header_mismatch", "undecodable base64 header value", "Header mismatch: a =?base64?…?= header value does not decode");
  }
}

/** Encodes a value for a 2026-07-28 header: plain when it is safe visible ASCII, `=?base64?…?=` otherwise. */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !ENCODED_VALUE.test(value);
  if (plain) return value;
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return `=?base64?${btoa(binary)}?=`;
}

/** The body value `Mcp-Name` must mirror, by method. */
function nameValueOf(message: Extract<ClientMessage, { kind: "request" }>): string | undefined {
  const params = message.params ?? {};
  switch (message.method) {
    case "tools/call":
    case "prompts/get":
      return typeof params.name === "string" ? params.name : undefined;
    case "resources/read":
      return typeof params.uri === "string" ? params.uri : undefined;
    case "tasks/get":
    case "tasks/update":
    case "tasks/cancel":
      return typeof params.taskId === "string" ? params.taskId : undefined;
    default:
      return undefined;
  }
}

function mismatch(header: string, headerValue: string, bodyValue: string | undefined): Refusal {
  return new Refusal(
    "header_mismatch",
    `${header} ${headerValue} vs body ${bodyValue}`,
    `Header mismatch: ${header} header value '${headerValue}' does not match body value '${bodyValue ?? "(absent)"}'`,
  );
}

/**
 * From 2026-07-28 on, `Mcp-Method` and `Mcp-Name` restate the body; taskward decides on the body
 * and the origin may route on the headers, so a disagreement is refused (400, -32020) before
 * anything else. A missing `Mcp-Name` is tolerated (some SDK clients omit it). The
 * `MCP-Protocol-Version` header is checked with the revision decision (revisions/decide.ts).
 */
export function checkHeadersAgreeWithBody(headers: Headers, message: ClientMessage, module: RevisionModule): void {
  if (message.kind === "response" || !module.routingHeaders) return;
  checkRoutingHeaders(headers, message);
}

function checkRoutingHeaders(headers: Headers, message: Exclude<ClientMessage, { kind: "response" }>): void {
  const methodHeader = headers.get(MCP_METHOD_HEADER);
  if (methodHeader !== null && decodeHeaderValue(methodHeader) !== message.method) throw mismatch(MCP_METHOD_HEADER, methodHeader, message.method);
  const nameHeader = headers.get(MCP_NAME_HEADER);
  if (nameHeader !== null && message.kind === "request") {
    const expected = nameValueOf(message);
    if (expected !== undefined && decodeHeaderValue(nameHeader) !== expected) throw mismatch(MCP_NAME_HEADER, nameHeader, expected);
  }
}

const MCP_PARAM_PREFIX = "mcp-param-";

/**
 * The routing headers the origin receives, re-encoded from the forwarded body: `Mcp-Method` and
 * `Mcp-Name` when the client sent them (after the check above) and `Mcp-Name` always on task
 * follow-ups (it then names the origin's own task id); `Mcp-Param-*` only on tools/call, where
 * they mirror arguments the origin validates against its own tool schema. Nothing for revisions
 * without routing headers or for client responses.
 */
export function routingHeadersFor(client: Headers, forwarded: ClientMessage, module: RevisionModule, taskFollowUp: boolean): Array<[string, string]> {
  if (!module.routingHeaders || forwarded.kind === "response") return [];
  const headers: Array<[string, string]> = [];
  if (client.has(MCP_METHOD_HEADER)) headers.push([MCP_METHOD_HEADER, encodeHeaderValue(forwarded.method)]);
  if (forwarded.kind !== "request") return headers;
  const name = nameValueOf(forwarded);
  if (name !== undefined && (taskFollowUp || client.has(MCP_NAME_HEADER))) headers.push([MCP_NAME_HEADER, encodeHeaderValue(name)]);
  if (forwarded.method === "tools/call") {
    for (const [header, value] of client) if (header.toLowerCase().startsWith(MCP_PARAM_PREFIX)) headers.push([header, value]);
  }
  return headers;
}
