import { TASK_HANDLE_HEADER } from "../mcp/headers.js";

/** Request headers an MCP client may pass to the origin. Everything else (Authorization, cookies, our own headers) stays at the edge. */
const FORWARDED_REQUEST_HEADERS = ["accept", "content-type", "mcp-protocol-version", "mcp-session-id", "last-event-id", "mcp-method", "mcp-name", "user-agent"];
/** Response headers the origin may pass back to the client. */
const FORWARDED_RESPONSE_HEADERS = ["content-type", "mcp-session-id", "mcp-protocol-version", "cache-control", "retry-after"];

/** 2026-07-28 routing headers; before that revision they mean nothing and are not forwarded. */
const ROUTING_HEADERS = new Set(["mcp-method", "mcp-name"]);

/**
 * Builds the origin request headers from the client's, dropping credentials and anything
 * unknown. Routing headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`) pass only for revisions
 * that validate them against the body.
 */
export function originRequestHeaders(client: Headers, handle?: string, withRoutingHeaders = true): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    if (!withRoutingHeaders && ROUTING_HEADERS.has(name)) continue;
    const value = client.get(name);
    if (value !== null) headers.set(name, value);
  }
  for (const [name, value] of client) {
    // 2026-07-28 mirrors tool params in Mcp-Param-* headers; they are part of the request.
    if (withRoutingHeaders && name.toLowerCase().startsWith("mcp-param-")) headers.set(name, value);
  }
  if (handle !== undefined) headers.set(TASK_HANDLE_HEADER, handle);
  return headers;
}

export function clientResponseHeaders(origin: Headers): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = origin.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}
