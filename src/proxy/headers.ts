import { PROTOCOL_VERSION_HEADER, TASK_HANDLE_HEADER } from "../mcp/headers.js";

/**
 * Request headers an MCP client may pass to the origin. Everything else (Authorization, cookies,
 * our own headers) stays at the edge. `MCP-Protocol-Version` is set from the revision decision,
 * routing headers only as the request's route re-encoded them, and `Last-Event-ID` only on GET,
 * once opened from the sealed form clients see (see event-ids.ts).
 */
const FORWARDED_REQUEST_HEADERS = ["accept", "content-type", "mcp-session-id", "user-agent"];
/** Response headers the origin may pass back to the client. */
const FORWARDED_RESPONSE_HEADERS = ["content-type", "mcp-session-id", "mcp-protocol-version", "cache-control", "retry-after"];

function baseHeaders(client: Headers, version: string): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = client.get(name);
    if (value !== null) headers.set(name, value);
  }
  headers.set(PROTOCOL_VERSION_HEADER, version);
  return headers;
}

/** What a POST's route decided the origin receives besides the client's plain headers. */
export interface ForwardedHeaders {
  /** The decided revision: the origin reads the call as exactly this one. */
  version: string;
  /** Routing headers re-encoded from the forwarded body (empty for revisions without them and for client responses). */
  routing: ReadonlyArray<readonly [string, string]>;
  /** Taskward-Task-Handle: the verified handle(s), for the origin's stateless re-verification. */
  handle?: string | undefined;
}

/** Builds a POST's origin request headers from the client's, dropping credentials and anything unknown. */
export function originRequestHeaders(client: Headers, forwarded: ForwardedHeaders): Headers {
  const headers = baseHeaders(client, forwarded.version);
  for (const [name, value] of forwarded.routing) headers.set(name, value);
  if (forwarded.handle !== undefined) headers.set(TASK_HANDLE_HEADER, forwarded.handle);
  return headers;
}

/**
 * GET (server stream) and DELETE (end session): no body to check routing headers against, so
 * none are forwarded. `lastEventId` is the origin's event id the client's sealed Last-Event-ID opened to.
 */
export function streamRequestHeaders(client: Headers, version: string, lastEventId?: string): Headers {
  const headers = baseHeaders(client, version);
  if (lastEventId !== undefined) headers.set("last-event-id", lastEventId);
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
