import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ResponseMessage } from "@modelcontextprotocol/sdk/shared/responseMessage.js";
import { CallToolResultSchema, RELATED_TASK_META_KEY, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { TASK_HANDLE_HEADER } from "../../src/origin/index.js";

const PROTOCOL_VERSION = "2025-11-25";

async function collect<T>(stream: AsyncGenerator<T>): Promise<T[]> {
  const messages: T[] = [];
  for await (const message of stream) messages.push(message);
  return messages;
}

/** The first text content of a tool result (callTool's result type is a union, hence `unknown`). */
function textOf(result: unknown): string | undefined {
  const first = (result as { content?: Array<{ type: string; text?: string }> }).content?.[0];
  return first?.type === "text" ? first.text : undefined;
}

describe("demo origin, driven by the official SDK client", () => {
  let origin: DemoOrigin;
  let client: Client;

  beforeAll(async () => {
    origin = await startDemoOrigin({ port: 0 });
    client = new Client({ name: "demo-origin-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(origin.url)));
  });

  afterAll(async () => {
    await client?.close();
    await origin?.close();
  });

  /** Starts a task-augmented tools/call and returns its task id as soon as the task exists. */
  async function createTask(name: string, args: Record<string, unknown>): Promise<string> {
    for await (const message of client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl: 30_000 } })) {
      if (message.type === "taskCreated") return message.task.taskId;
      throw new Error(`expected taskCreated first, got ${message.type}`);
    }
    throw new Error("stream ended without a task");
  }

  it("declares each tool's task support", async () => {
    const { tools } = await client.listTools();
    const support = Object.fromEntries(tools.map((tool) => [tool.name, tool.execution?.taskSupport]));
    expect(support).toEqual({
      slow_echo: "required",
      summarize: "optional",
      ping_now: "forbidden",
      long_job: "required",
      always_fails: "required",
    });
  });

  it("runs slow_echo as a task and returns its result", async () => {
    const stream = client.experimental.tasks.callToolStream({ name: "slow_echo", arguments: { text: "hello", delayMs: 100 } }, CallToolResultSchema, {
      task: { ttl: 30_000 },
    });
    const messages: ResponseMessage<CallToolResult>[] = await collect(stream);
    const created = messages[0];
    const last = messages.at(-1);
    if (created?.type !== "taskCreated" || last?.type !== "result") throw new Error(`unexpected stream: ${JSON.stringify(messages)}`);
    expect(created.task).toMatchObject({ status: "working", ttl: 30_000, pollInterval: 200 });
    expect(textOf(last.result)).toBe("hello");

    const taskId = created.task.taskId;
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: "completed" });
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(textOf(result)).toBe("hello");
    expect(result._meta?.[RELATED_TASK_META_KEY]).toEqual({ taskId });
  });

  it("applies the default ttl when the client asks for none", async () => {
    const stream = client.experimental.tasks.callToolStream({ name: "slow_echo", arguments: { text: "x", delayMs: 0 } }, CallToolResultSchema, { task: {} });
    const [created] = await collect(stream);
    expect(created).toMatchObject({ type: "taskCreated", task: { ttl: 60_000 } });
  });

  it("refuses slow_echo without a task", async () => {
    // client.request, not callTool: callTool would refuse locally before the origin sees anything.
    const result = await client.request({ method: "tools/call", params: { name: "slow_echo", arguments: { text: "x" } } }, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/requires task augmentation/);
  });

  it("runs summarize as a plain call and as a task", async () => {
    const plain = await client.callTool({ name: "summarize", arguments: { text: "a long text" } });
    expect(textOf(plain)).toBe("summary: a long text");

    const messages = await collect(client.experimental.tasks.callToolStream({ name: "summarize", arguments: { text: "tasked" } }, CallToolResultSchema, { task: {} }));
    expect(messages[0]?.type).toBe("taskCreated");
    const last = messages.at(-1);
    if (last?.type !== "result") throw new Error(`unexpected stream: ${JSON.stringify(messages)}`);
    expect(textOf(last.result)).toBe("summary: tasked");
  });

  it("answers ping_now as a plain call", async () => {
    const result = await client.callTool({ name: "ping_now", arguments: {} });
    expect(textOf(result)).toBe("pong");
    expect(result.isError).toBeFalsy();
  });

  it("cancels a long_job", async () => {
    const taskId = await createTask("long_job", { seconds: 30 });
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ status: "working" });

    const cancelled = await client.experimental.tasks.cancelTask(taskId);
    expect(cancelled).toMatchObject({ taskId, status: "cancelled" });
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ status: "cancelled" });
    // A cancelled task is terminal: cancelling again is an error.
    await expect(client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/terminal/);

    const { tasks } = await client.experimental.tasks.listTasks();
    expect(tasks.find((task) => task.taskId === taskId)?.status).toBe("cancelled");
  });

  it("ends always_fails in status failed with an isError result", async () => {
    const messages = await collect(client.experimental.tasks.callToolStream({ name: "always_fails", arguments: {} }, CallToolResultSchema, { task: {} }));
    const created = messages[0];
    if (created?.type !== "taskCreated") throw new Error(`unexpected stream: ${JSON.stringify(messages)}`);
    expect(messages.at(-1)?.type).toBe("error");

    const taskId = created.task.taskId;
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ status: "failed" });
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/always fails/);
  });

  it("records the methods and task ids it receives, in process and over HTTP", async () => {
    origin.received.length = 0;
    const taskId = await createTask("slow_echo", { text: "recorded", delayMs: 0 });
    await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);

    const call = origin.received.find((message) => message.method === "tools/call");
    expect(call).toMatchObject({ id: expect.anything(), sessionId: expect.any(String) });
    expect(call?.taskId).toBeUndefined();
    expect(origin.received.filter((message) => message.taskId === taskId).map((message) => message.method)).toContain("tasks/result");
    expect(origin.received.every((message) => typeof message.at === "number" && message.handle === undefined)).toBe(true);

    const receivedUrl = new URL("/__demo/received", origin.url);
    const overHttp = (await (await fetch(receivedUrl)).json()) as unknown[];
    expect(overHttp).toEqual(JSON.parse(JSON.stringify(origin.received)));
    expect((await fetch(receivedUrl, { method: "DELETE" })).status).toBe(204);
    expect(origin.received).toHaveLength(0);
  });

  it("answers 404 outside /mcp", async () => {
    expect((await fetch(new URL("/elsewhere", origin.url))).status).toBe(404);
  });
});

// ---- handle verification, over raw JSON-RPC POSTs ----

const ISSUER = "https://taskward.test";

interface JsonRpcResponse {
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** The response to request `id`, from a JSON body or an SSE stream of `data:` lines. */
function responseFor(id: number, contentType: string, body: string): JsonRpcResponse {
  const candidates = contentType.includes("text/event-stream")
    ? body.split("\n").filter((line) => line.startsWith("data:")).map((line) => JSON.parse(line.slice(5)) as JsonRpcResponse)
    : [JSON.parse(body) as JsonRpcResponse];
  const response = candidates.find((candidate) => candidate.id === id);
  if (!response) throw new Error(`no response for id ${id} in ${body}`);
  return response;
}

describe("demo origin verifying task handles", () => {
  let origin: DemoOrigin;
  let signingKey: CryptoKey;
  let otherKey: CryptoKey;
  let sessionId: string;
  let nextId = 1;

  async function post(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(origin.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL_VERSION,
        ...(sessionId ? { "mcp-session-id": sessionId } : {}),
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: "2.0", ...body }),
    });
  }

  async function rpc(method: string, params: Record<string, unknown>, handle?: string): Promise<JsonRpcResponse> {
    const id = nextId++;
    const response = await post({ id, method, params }, handle ? { [TASK_HANDLE_HEADER]: handle } : {});
    expect(response.status).toBe(200);
    return responseFor(id, response.headers.get("content-type") ?? "", await response.text());
  }

  async function handleFor(task: string, key = signingKey, audience = origin.url): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: "user-1", tenant: "tenant-1", client_id: "client-1", task, tool: "long_job", ops: ["get", "result", "cancel"], mcp: PROTOCOL_VERSION })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "mcp-task-handle+jwt" })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(key);
  }

  async function createLongJob(): Promise<string> {
    const response = await rpc("tools/call", { name: "long_job", arguments: { seconds: 30 }, task: { ttl: 30_000 } });
    const task = response.result?.task as { taskId?: unknown } | undefined;
    if (typeof task?.taskId !== "string") throw new Error(`no task created: ${JSON.stringify(response)}`);
    return task.taskId;
  }

  beforeAll(async () => {
    const pair = await generateKeyPair("EdDSA", { extractable: true });
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair("EdDSA")).privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "EdDSA" };
    origin = await startDemoOrigin({ port: 0, handleVerification: { issuer: ISSUER, jwks: { keys: [publicJwk] } }, requireHandle: true });

    const init = await post({ id: 0, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    sessionId = init.headers.get("mcp-session-id") ?? "";
    expect(sessionId).not.toBe("");
    await init.text();
    expect((await post({ method: "notifications/initialized" })).status).toBe(202);
  });

  afterAll(async () => {
    await origin?.close();
  });

  it("answers tasks/get with a valid handle for the task", async () => {
    const taskId = await createLongJob();
    const handle = await handleFor(taskId);
    const response = await rpc("tasks/get", { taskId }, handle);
    expect(response.result).toMatchObject({ taskId, status: "working" });
    expect(origin.received.at(-1)).toMatchObject({ method: "tasks/get", taskId, handle, sessionId });
  });

  it("refuses tasks/get without a handle", async () => {
    const taskId = await createLongJob();
    expect((await rpc("tasks/get", { taskId })).error).toEqual({ code: -32602, message: "Task not found" });
  });

  it("refuses a handle minted for another task", async () => {
    const [taskId, otherTaskId] = [await createLongJob(), await createLongJob()];
    const response = await rpc("tasks/get", { taskId }, await handleFor(otherTaskId));
    expect(response.error).toEqual({ code: -32602, message: "Task not found" });
  });

  it("refuses a handle with a bad signature", async () => {
    const taskId = await createLongJob();
    const response = await rpc("tasks/get", { taskId }, await handleFor(taskId, otherKey));
    expect(response.error).toEqual({ code: -32602, message: "Task not found" });
  });

  it("refuses a handle for another audience", async () => {
    const taskId = await createLongJob();
    const handle = await handleFor(taskId, signingKey, "https://elsewhere.example/mcp");
    expect((await rpc("tasks/get", { taskId }, handle)).error?.code).toBe(-32602);
  });

  it("leaves the task untouched when a tasks/cancel is refused", async () => {
    const taskId = await createLongJob();
    expect((await rpc("tasks/cancel", { taskId }, await handleFor(taskId, otherKey))).error?.code).toBe(-32602);
    await sleep(50);
    expect((await rpc("tasks/get", { taskId }, await handleFor(taskId))).result).toMatchObject({ status: "working" });

    const cancelled = await rpc("tasks/cancel", { taskId }, await handleFor(taskId));
    expect(cancelled.result).toMatchObject({ taskId, status: "cancelled" });
  });
});
