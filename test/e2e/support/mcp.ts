/** The caller's side of the e2e tests: dev tokens, the official SDK client, handles, wire parsing. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import { parseSseMessages } from "../../support/sse-messages.js";
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";

export interface Identity {
  tenant: string;
  client_id: string;
  sub: string;
}

export async function devToken(base: string, identity: Identity): Promise<string> {
  const response = await fetch(`${base}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(identity) });
  if (response.status !== 200) throw new Error(`POST /dev/token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

export interface Caller {
  identity: Identity;
  token: string;
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/** An official SDK client with its own dev token, connected to the authority's /mcp. */
export async function connect(base: string, identity: Identity, path = "/mcp"): Promise<Caller> {
  const token = await devToken(base, identity);
  const transport = new StreamableHTTPClientTransport(new URL(`${base}${path}`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  const client = new Client({ name: `e2e-${identity.sub}`, version: "1.0.0" });
  await client.connect(transport);
  return { identity, token, client, transport };
}

/** Starts a task-augmented tools/call and returns the taskId the client sees, as soon as the task exists. */
export async function createTask(client: Client, name: string, args: Record<string, unknown>, ttl = 120_000): Promise<string> {
  for await (const message of client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl } })) {
    if (message.type === "taskCreated") return message.task.taskId;
    throw new Error(`expected taskCreated first, got ${JSON.stringify(message)}`);
  }
  throw new Error("the tools/call stream ended without a task");
}

export async function waitForStatus(client: Client, taskId: string, wanted: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await client.experimental.tasks.getTask(taskId);
    if (task.status === wanted) return task as Record<string, unknown>;
    if (Date.now() > deadline) throw new Error(`task still ${task.status}, never ${wanted}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface HandleClaims extends JWTPayload {
  tenant: string;
  client_id: string;
  sub: string;
  task: string;
  tool: string;
  ops: string[];
  mcp: string;
  jti: string;
}

export function claimsOf(handle: string): HandleClaims {
  return decodeJwt(handle) as HandleClaims;
}

export function headerOf(handle: string): Record<string, unknown> {
  return decodeProtectedHeader(handle) as Record<string, unknown>;
}

/** The first text content of a tool result. */
export function textOf(result: unknown): string | undefined {
  const first = (result as { content?: Array<{ type: string; text?: string }> }).content?.[0];
  return first?.type === "text" ? first.text : undefined;
}

/** Every JSON-RPC message in an HTTP body: one JSON document, or the `data:` of each SSE event. */
export function messagesIn(body: string): Array<Record<string, any>> {
  const trimmed = body.trim();
  if (trimmed === "") return [];
  if (trimmed.startsWith("{")) return [JSON.parse(trimmed)];
  return parseSseMessages(trimmed);
}

/** The call is refused like an unknown task: the SDK's McpError with -32602 "Task not found". */
export async function expectTaskNotFound(call: Promise<unknown>): Promise<void> {
  const error = await call.then(
    (value) => ({ unexpectedSuccess: value }),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(McpError);
  expect(error).toMatchObject({ code: -32602, message: "MCP error -32602: Task not found" });
}
