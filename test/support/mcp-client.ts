import { exports } from "cloudflare:workers";
import { inject } from "vitest";
import { parseSseMessages } from "./sse-messages.js";

export { parseSseMessages };

/** Raw MCP-over-HTTP calls to the Worker under test (in workerd), for precise control of the wire. */

export interface Identity {
  tenant: string;
  client_id: string;
  sub: string;
}

export const ALICE: Identity = { tenant: "acme", client_id: "cli-a", sub: "alice" };

export function worker(): Fetcher {
  return (exports as unknown as { default: Fetcher }).default;
}

export async function devToken(identity: Identity): Promise<string> {
  const response = await worker().fetch("https://taskward.test/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(identity),
  });
  if (response.status !== 200) throw new Error(`dev token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

export interface RpcReply {
  status: number;
  headers: Headers;
  /** Every JSON-RPC message in the body (one for JSON, each event's for SSE). */
  messages: Array<Record<string, any>>;
  /** The response to the request (same id), if any. */
  reply: Record<string, any> | undefined;
}

export async function readReply(response: Response, id?: unknown): Promise<RpcReply> {
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  let messages: Array<Record<string, any>> = [];
  if (type.startsWith("text/event-stream")) messages = parseSseMessages(text);
  else if (text) messages = [JSON.parse(text)];
  return { status: response.status, headers: response.headers, messages, reply: messages.find((m) => m.id === id && ("result" in m || "error" in m)) };
}

export class McpSession {
  private nextId = 1;
  sessionId: string | undefined;
  constructor(
    readonly token: string,
    readonly protocolVersion = "2025-11-25",
    /** The MCP endpoint: /mcp (the default origin) or /mcp/<origin name>. */
    readonly path = "/mcp",
  ) {}

  static async open(identity: Identity = ALICE, path = "/mcp"): Promise<McpSession> {
    return McpSession.openWithToken(await devToken(identity), path);
  }

  /** The same session presenting another bearer token. */
  withToken(token: string): McpSession {
    const copy = new McpSession(token, this.protocolVersion, this.path);
    copy.sessionId = this.sessionId;
    return copy;
  }

  /** The same session (its sealed Mcp-Session-Id) sent to another MCP endpoint path. */
  at(path: string): McpSession {
    const copy = new McpSession(this.token, this.protocolVersion, path);
    copy.sessionId = this.sessionId;
    return copy;
  }

  static async openWithToken(token: string, path = "/mcp"): Promise<McpSession> {
    const session = new McpSession(token, "2025-11-25", path);
    const init = await session.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      clientInfo: { name: "taskward-test", version: "0" },
    });
    if (!init.reply?.result) throw new Error(`initialize failed: ${JSON.stringify(init.messages)}`);
    session.sessionId = init.headers.get("mcp-session-id") ?? undefined;
    await session.notify("notifications/initialized");
    return session;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${this.token}`,
      "mcp-protocol-version": this.protocolVersion,
      ...extra,
    };
    if (this.sessionId) headers["mcp-session-id"] = this.sessionId;
    return headers;
  }

  async post(body: unknown, extraHeaders: Record<string, string> = {}): Promise<Response> {
    return worker().fetch(`https://taskward.test${this.path}`, {
      method: "POST",
      headers: this.headers(extraHeaders),
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  async request(method: string, params?: Record<string, unknown>, extraHeaders: Record<string, string> = {}): Promise<RpcReply> {
    const id = this.nextId++;
    const response = await this.post({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) }, extraHeaders);
    return readReply(response, id);
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<Response> {
    return this.post({ jsonrpc: "2.0", method, ...(params ? { params } : {}) });
  }

  /** tools/call as a task; returns the handle the client sees. */
  async createTask(name: string, args: Record<string, unknown>, ttl = 60_000): Promise<{ handle: string; reply: RpcReply }> {
    const reply = await this.request("tools/call", { name, arguments: args, task: { ttl } });
    const handle = reply.reply?.result?.task?.taskId;
    if (typeof handle !== "string") throw new Error(`no task created: ${JSON.stringify(reply.messages)}`);
    return { handle, reply };
  }

  async waitForStatus(handle: string, wanted: string[], timeoutMs = 10_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await this.request("tasks/get", { taskId: handle });
      const result = got.reply?.result;
      if (result && wanted.includes(result.status)) return result;
      if (Date.now() > deadline) throw new Error(`task never reached ${wanted}: ${JSON.stringify(got.messages)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What the demo origin received (its test-only log), to prove refused calls never reached it. */
export interface OriginReceived {
  method?: string;
  id?: unknown;
  taskId?: string;
  handle?: string;
  sessionId?: string;
  params?: Record<string, any>;
  protocolVersion?: string;
  mcpMethod?: string;
  mcpName?: string;
}

export async function originReceived(origin: "originUrl" | "betaOriginUrl" = "originUrl"): Promise<OriginReceived[]> {
  const url = new URL(inject(origin));
  url.pathname = "/__demo/received";
  return (await (await fetch(url)).json()) as OriginReceived[];
}

/** What both demo origins of the workers project received (the default origin's and origin "beta"'s). */
export async function everyOriginReceived(): Promise<OriginReceived[]> {
  return [...(await originReceived("originUrl")), ...(await originReceived("betaOriginUrl"))];
}

export async function adminFetch(path: string, init: RequestInit = {}, token = "test-admin-token"): Promise<Response> {
  return worker().fetch(`https://taskward.test/admin${path}`, {
    ...init,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

const originSessions = new WeakMap<McpSession, string>();

/**
 * The origin's own id of an McpSession's session: the client holds only a sealed one. Found once
 * by a ping with a unique id, whose entry in the origin's log names the session.
 */
export async function originSessionIdOf(session: McpSession): Promise<string> {
  const cached = originSessions.get(session);
  if (cached) return cached;
  const id = `origin-session-${crypto.randomUUID()}`;
  await (await session.post({ jsonrpc: "2.0", id, method: "ping" })).text();
  const entry = (await originReceived()).find((m) => m.id === id);
  if (!entry?.sessionId) throw new Error("the origin saw no session for this McpSession");
  originSessions.set(session, entry.sessionId);
  return entry.sessionId;
}

/** The origin's id of the task behind a handle, as the ledger maps it (handles do not carry it). */
export async function originTaskIdOf(handle: string): Promise<string> {
  const { tenant, jti } = decodeClaims(handle);
  const response = await adminFetch(`/tenants/${tenant}/tasks/${jti}`);
  if (response.status !== 200) throw new Error(`no ledger record for ${jti}: ${response.status}`);
  return ((await response.json()) as { taskId: string }).taskId;
}

/**
 * Whether the origin received this entry on behalf of `handle`: the edge forwards the
 * origin-facing copy of a handle (same jti, naming the origin task), not the client's bytes.
 */
export function forwardedFor(received: OriginReceived, handle: string): boolean {
  if (typeof received.handle !== "string") return false;
  const forwardedJti = received.handle.split(",").map((h) => decodeClaims(h.trim()).jti);
  return forwardedJti.includes(decodeClaims(handle).jti);
}

/**
 * `text` followed by the decoded header and payload of every compact JWS in it (handles, sealed
 * cursors): a base64url segment hides the ids it carries from a plain substring check.
 */
export function decodedForm(text: string): string {
  const decoded: string[] = [text];
  for (const match of text.matchAll(/[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g)) {
    for (const segment of match[0].split(".").slice(0, 2)) {
      try {
        decoded.push(new TextDecoder().decode(Uint8Array.from(atob(segment.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));
      } catch {
        // not base64url: nothing hidden in it
      }
    }
  }
  return decoded.join("\n");
}

export function decodeClaims(handle: string): Record<string, any> {
  const payload = handle.split(".")[1]!;
  return JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
}

/** The ledger shard a handle names: shard 0's handles carry no `shd` claim. */
export function shardOf(handle: string): number {
  return decodeClaims(handle).shd ?? 0;
}

/**
 * One MCP 2026-07-28 request to `path` (no session: the revision is the header's), with the tasks
 * extension declared in `_meta` (plus `capabilities`); `name` is sent as Mcp-Name.
 */
export async function call2026(
  identity: Identity,
  method: string,
  params: Record<string, unknown>,
  options: { path?: string; name?: string; id?: unknown; capabilities?: Record<string, unknown> } = {},
): Promise<{ status: number; text: string; reply: Record<string, any> | undefined; messages: Array<Record<string, any>> }> {
  const id = options.id ?? crypto.randomUUID();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${await devToken(identity)}`,
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": method,
  };
  if (options.name !== undefined) headers["mcp-name"] = options.name;
  const _meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "t", version: "0" },
    "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} }, ...options.capabilities },
  };
  const response = await worker().fetch(`https://taskward.test${options.path ?? "/mcp"}`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta } }) });
  const text = await response.text();
  const messages: Array<Record<string, any>> = (response.headers.get("content-type") ?? "").startsWith("text/event-stream") ? parseSseMessages(text) : text ? [JSON.parse(text)] : [];
  return { status: response.status, text, reply: messages.find((m) => m.id === id), messages };
}
