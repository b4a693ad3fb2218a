/**
 * The demo origin's MCP 2026-07-28 mode (stateless wire + the io.modelcontextprotocol/tasks
 * extension), driven with raw JSON-RPC POSTs — and the 2025-11-25 SDK path beside it, in the
 * same process, on the same endpoint.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeHeaderValue } from "../../demo/modern/headers.js";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { TASK_HANDLE_HEADER } from "../../src/origin/index.js";

const VERSION = "2026-07-28";
const TASKS = "io.modelcontextprotocol/tasks";
const WITH_TASKS = { extensions: { [TASKS]: {} }, elicitation: {} };
const WITHOUT_TASKS = {};
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

type JsonObject = Record<string, any>;

interface Reply {
  status: number;
  contentType: string;
  /** The JSON-RPC response to this request. */
  body: JsonObject;
  /** Every JSON-RPC message of an event-stream response, in order (just the body for JSON). */
  messages: JsonObject[];
}

interface CallOptions {
  /** `_meta` client capabilities (default: the tasks extension and elicitation). */
  capabilities?: JsonObject;
  /** Replaces the whole `_meta`. */
  meta?: JsonObject;
  /** Header overrides; `undefined` removes a default header. */
  headers?: Record<string, string | undefined>;
  id?: number | string;
}

let nextId = 1;

/** The Mcp-Name a compliant client sends for this request, if any. */
function mcpNameFor(method: string, params: JsonObject): string | undefined {
  if (method === "tools/call" || method === "prompts/get") return params.name;
  if (method === "resources/read") return params.uri;
  if (method === "tasks/get" || method === "tasks/update" || method === "tasks/cancel") return params.taskId;
  return undefined;
}

function parseMessages(contentType: string, text: string): JsonObject[] {
  if (!contentType.includes("text/event-stream")) return text ? [JSON.parse(text) as JsonObject] : [];
  return text
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => JSON.parse(line.slice(5)) as JsonObject);
}

async function call(url: string, method: string, params: JsonObject = {}, options: CallOptions = {}): Promise<Reply> {
  const id = options.id ?? nextId++;
  const meta = options.meta ?? {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": { name: "demo-origin-2026-test", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": options.capabilities ?? WITH_TASKS,
  };
  const name = mcpNameFor(method, params);
  const headers: Record<string, string | undefined> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": VERSION,
    "mcp-method": method,
    ...(typeof name === "string" ? { "mcp-name": encodeHeaderValue(name) } : {}),
    ...options.headers,
  };
  const response = await fetch(url, {
    method: "POST",
    headers: Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: meta } }),
    signal: AbortSignal.timeout(15_000),
  });
  const contentType = response.headers.get("content-type") ?? "";
  const messages = parseMessages(contentType, await response.text());
  const body = messages.find((message) => message.id === id && ("result" in message || "error" in message)) ?? messages.at(-1) ?? {};
  return { status: response.status, contentType, body, messages };
}

async function result(url: string, method: string, params: JsonObject = {}, options: CallOptions = {}): Promise<JsonObject> {
  const reply = await call(url, method, params, options);
  if (!reply.body.result) throw new Error(`${method} failed: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.result;
}

async function waitForStatus(url: string, taskId: string, statuses: string[], options: CallOptions = {}, timeoutMs = 8000): Promise<JsonObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await result(url, "tasks/get", { taskId }, options);
    if (statuses.includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status}, wanted ${statuses.join("|")}`);
    await sleep(50);
  }
}

const textOf = (toolResult: JsonObject | undefined): string | undefined => toolResult?.content?.[0]?.text;

describe("demo origin, MCP 2026-07-28 mode", () => {
  let origin: DemoOrigin;
  let url: string;

  beforeAll(async () => {
    origin = await startDemoOrigin({ port: 0 });
    url = origin.url;
  });

  afterAll(async () => {
    await origin?.close();
  });

  it("answers server/discover with its versions, the tasks extension and its identity", async () => {
    const reply = await call(url, "server/discover", {}, { capabilities: WITHOUT_TASKS });
    expect(reply.status).toBe(200);
    const discovered = reply.body.result;
    expect(discovered).toMatchObject({
      resultType: "complete",
      supportedVersions: [VERSION, "2025-11-25"],
      capabilities: { tools: {}, resources: {}, prompts: {}, extensions: { [TASKS]: {} } },
      _meta: { [SERVER_INFO]: { name: "taskward-demo-origin", version: "0.1.0" } },
      cacheScope: expect.stringMatching(/^(public|private)$/),
    });
    expect(discovered.capabilities.tasks).toBeUndefined();
    expect(Number.isInteger(discovered.ttlMs)).toBe(true);
  });

  it("creates a task as a flat CreateTaskResult that tasks/get resolves at once, then inlines the result", async () => {
    const created = await result(url, "tools/call", { name: "slow_compute", arguments: { seconds: 0.3, label: "flat" } });
    expect(created).toMatchObject({ resultType: "task", status: "working", ttlMs: expect.any(Number), pollIntervalMs: 200 });
    expect(created.taskId).toMatch(/^[0-9a-f]{32}$/);
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
    for (const absent of ["task", "result", "error", "inputRequests", "requestState", "ttl", "pollInterval"]) expect(created).not.toHaveProperty(absent);
    expect(created._meta[SERVER_INFO].name).toBe("taskward-demo-origin");

    // Durable create: the very next tasks/get knows the task.
    expect(await result(url, "tasks/get", { taskId: created.taskId })).toMatchObject({ taskId: created.taskId, resultType: "complete", status: "working" });

    const done = await waitForStatus(url, created.taskId, ["completed"]);
    expect(done).toMatchObject({ taskId: created.taskId, resultType: "complete", status: "completed" });
    expect(textOf(done.result)).toBe("slow_compute(flat) finished after 0.3s");
    expect(done.result._meta?.["io.modelcontextprotocol/related-task"]).toBeUndefined();
    expect(done).not.toHaveProperty("requestState");
    expect(done).not.toHaveProperty("error");
  });

  it("never answers a task to a request that does not declare the extension", async () => {
    const sync = await result(url, "tools/call", { name: "slow_compute", arguments: { seconds: 0, label: "sync" } }, { capabilities: WITHOUT_TASKS });
    expect(sync).toMatchObject({ resultType: "complete", content: [{ type: "text" }] });
    expect(sync).not.toHaveProperty("taskId");
    // A legacy `task` hint is ignored (and never makes a synchronous tool a task).
    const greeted = await result(url, "tools/call", { name: "greet", arguments: { name: "hint" }, task: { ttl: 60_000 } });
    expect(greeted).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "Hello, hint!" }] });
  });

  it("ends a tool error as completed + isError and a protocol error as failed + error", async () => {
    const failing = await result(url, "tools/call", { name: "failing_job", arguments: {} });
    const protocol = await result(url, "tools/call", { name: "protocol_error_job", arguments: {} });
    const [toolError, protocolError] = await Promise.all([
      waitForStatus(url, failing.taskId, ["completed", "failed"]),
      waitForStatus(url, protocol.taskId, ["completed", "failed"]),
    ]);
    expect(toolError).toMatchObject({ status: "completed", result: { isError: true } });
    expect(protocolError).toMatchObject({ status: "failed", error: { code: -32603, message: expect.any(String) } });
    expect(protocolError).not.toHaveProperty("result");
  });

  it("parks confirm_delete in input_required and resumes it with tasks/update", async () => {
    const { taskId } = await result(url, "tools/call", { name: "confirm_delete", arguments: { filename: "a.txt" } });
    const parked = await waitForStatus(url, taskId, ["input_required"]);
    const keys = Object.keys(parked.inputRequests);
    expect(keys).toHaveLength(1);
    expect(parked.inputRequests[keys[0]!]).toMatchObject({ method: "elicitation/create", params: { message: expect.stringContaining("a.txt") } });

    // Unknown keys are ignored; the ack is empty either way.
    const ignored = await result(url, "tasks/update", { taskId, inputResponses: { "not-a-key": { action: "accept", content: {} } } });
    expect(ignored).toEqual({ resultType: "complete", _meta: { [SERVER_INFO]: expect.any(Object) } });
    expect((await result(url, "tasks/get", { taskId })).status).toBe("input_required");

    const ack = await result(url, "tasks/update", { taskId, inputResponses: { [keys[0]!]: { action: "accept", content: { confirm: true } } } });
    for (const absent of ["taskId", "status", "result", "error", "inputRequests"]) expect(ack).not.toHaveProperty(absent);
    const done = await waitForStatus(url, taskId, ["completed"]);
    expect(textOf(done.result)).toBe("Deleted a.txt");
  });

  it("keeps multi_input input_required, with only the unanswered key, until both are answered", async () => {
    const { taskId } = await result(url, "tools/call", { name: "multi_input", arguments: {} });
    const parked = await waitForStatus(url, taskId, ["input_required"]);
    const [first, second] = Object.keys(parked.inputRequests);
    expect(second).toBeDefined();
    await result(url, "tasks/update", { taskId, inputResponses: { [first!]: { action: "accept", content: { name: "Ada" } } } });
    const partial = await result(url, "tasks/get", { taskId });
    expect(partial.status).toBe("input_required");
    expect(Object.keys(partial.inputRequests)).toEqual([second]);
    await result(url, "tasks/update", { taskId, inputResponses: { [second!]: { action: "accept", content: { color: "teal" } } } });
    expect(textOf((await waitForStatus(url, taskId, ["completed"])).result)).toBe("multi_input done: name=Ada, color=teal");
  });

  it("acknowledges tasks/cancel with an empty result, idempotently, and stops the work", async () => {
    const { taskId } = await result(url, "tools/call", { name: "slow_compute", arguments: { seconds: 60, label: "cancel-me" } });
    const ack = await result(url, "tasks/cancel", { taskId });
    expect(Object.keys(ack).sort()).toEqual(["_meta", "resultType"]);
    expect(ack.resultType).toBe("complete");
    expect(await result(url, "tasks/get", { taskId })).toMatchObject({ status: "cancelled" });
    expect(await result(url, "tasks/cancel", { taskId })).toMatchObject({ resultType: "complete" });

    const quick = await result(url, "tools/call", { name: "summarize", arguments: { text: "done already" } });
    await waitForStatus(url, quick.taskId, ["completed"]);
    expect(await result(url, "tasks/cancel", { taskId: quick.taskId })).toMatchObject({ resultType: "complete" });
    expect((await result(url, "tasks/get", { taskId: quick.taskId })).status).toBe("completed");
  });

  it("resolves an MRTR round synchronously before creating the task (test_tool_with_task)", async () => {
    const round1 = await result(url, "tools/call", { name: "test_tool_with_task", arguments: {} });
    expect(round1).toMatchObject({ resultType: "input_required", inputRequests: { user_name: { method: "elicitation/create" } }, requestState: expect.any(String) });
    expect(round1).not.toHaveProperty("taskId");
    const round2 = await result(url, "tools/call", {
      name: "test_tool_with_task",
      arguments: {},
      inputResponses: { user_name: { action: "accept", content: { name: "Alice" } } },
      requestState: round1.requestState,
    });
    expect(round2).toMatchObject({ resultType: "task", taskId: expect.any(String) });
    expect(round2).not.toHaveProperty("requestState");
    expect(textOf((await waitForStatus(url, round2.taskId, ["completed"])).result)).toContain("Alice");
    // A tampered requestState is refused.
    const tampered = await call(url, "tools/call", { name: "test_tool_with_task", arguments: {}, inputResponses: {}, requestState: `${round1.requestState}x` });
    expect(tampered.body.error?.code).toBe(-32602);
  });

  describe("refusals", () => {
    it("-32020 (HTTP 400) when a header disagrees with the body", async () => {
      const cases: Array<[string, JsonObject, CallOptions]> = [
        ["tools/call", { name: "greet", arguments: { name: "x" } }, { headers: { "mcp-method": "tasks/get" } }],
        ["tools/call", { name: "greet", arguments: { name: "x" } }, { headers: { "mcp-name": "ping_now" } }],
        ["tools/call", { name: "greet", arguments: { name: "x" } }, { headers: { "mcp-name": undefined } }],
        ["tools/list", {}, { headers: { "mcp-method": undefined } }],
        ["tools/list", {}, { headers: { "mcp-method": "TOOLS/LIST" } }],
        ["tasks/get", { taskId: "0".repeat(32) }, { headers: { "mcp-name": "sep-2663-wrong-task-id-for-routing-header-mismatch" } }],
        ["server/discover", {}, { meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientCapabilities": {} } }],
        // No MCP-Protocol-Version header, but a 2026-07-28 _meta: still this mode, and refused.
        ["tools/list", {}, { headers: { "mcp-protocol-version": undefined } }],
      ];
      for (const [method, params, options] of cases) {
        const reply = await call(url, method, params, options);
        expect([reply.status, reply.body.error?.code], `${method} ${JSON.stringify(options)}`).toEqual([400, -32020]);
      }
    });

    it("tolerates a missing Mcp-Name on tasks/* (older SDK clients), unless told to require it", async () => {
      const { taskId } = await result(url, "tools/call", { name: "slow_compute", arguments: { seconds: 0, label: "no-name" } });
      expect((await call(url, "tasks/get", { taskId }, { headers: { "mcp-name": undefined } })).body.result?.taskId).toBe(taskId);

      const strict = await startDemoOrigin({ port: 0, modern: { requireTaskMcpName: true } });
      try {
        const created = await result(strict.url, "tools/call", { name: "slow_compute", arguments: { seconds: 0, label: "strict" } });
        const reply = await call(strict.url, "tasks/get", { taskId: created.taskId }, { headers: { "mcp-name": undefined } });
        expect([reply.status, reply.body.error?.code]).toEqual([400, -32020]);
      } finally {
        await strict.close();
      }
    });

    it("-32021 (HTTP 400) for the tasks methods and required-task tools without the extension, before any lookup", async () => {
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        const reply = await call(url, method, { taskId: "gate-test", ...(method === "tasks/update" ? { inputResponses: {} } : {}) }, { capabilities: WITHOUT_TASKS });
        expect(reply.status).toBe(400);
        expect(reply.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS]: {} } } } });
      }
      const required = await call(url, "tools/call", { name: "failing_job", arguments: {} }, { capabilities: WITHOUT_TASKS });
      expect([required.status, required.body.error?.code]).toEqual([400, -32021]);
      const listen = await call(url, "subscriptions/listen", { notifications: { taskIds: ["x"] } }, { capabilities: WITHOUT_TASKS });
      expect(listen.body.error?.code).toBe(-32021);
      const sampling = await call(url, "tools/call", { name: "test_missing_capability", arguments: {} }, { capabilities: WITHOUT_TASKS });
      expect(sampling.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { sampling: {} } } });
    });

    it("404 + -32601 for tasks/result, tasks/list and the methods 2026-07-28 removed, whatever their params", async () => {
      for (const [method, params] of [
        ["tasks/result", { taskId: "tasks-conformance-isolation-probe" }],
        ["tasks/list", {}],
        ["initialize", { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: "x", version: "1" } }],
        ["ping", {}],
        ["logging/setLevel", { level: "info" }],
        ["no/such-method", {}],
      ] as const) {
        const reply = await call(url, method, params, { id: `probe-${method}` });
        expect([reply.status, reply.body.error?.code, reply.body.id], method).toEqual([404, -32601, `probe-${method}`]);
      }
    });

    it("-32602 for an unknown task id and for missing required _meta", async () => {
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        const reply = await call(url, method, { taskId: "tasks-conformance-nonexistent-12345", inputResponses: {} });
        expect(reply.body.error, method).toEqual({ code: -32602, message: "Task not found" });
      }
      const noMeta = await call(url, "server/discover", {}, { meta: {} });
      expect([noMeta.status, noMeta.body.error?.code]).toEqual([400, -32602]);
      const noCapabilities = await call(url, "tools/list", {}, { meta: { "io.modelcontextprotocol/protocolVersion": VERSION } });
      expect([noCapabilities.status, noCapabilities.body.error?.code]).toEqual([400, -32602]);
    });

    it("-32022 (HTTP 400) for an unsupported version, naming the supported ones", async () => {
      const reply = await call(url, "server/discover", {}, {
        meta: { "io.modelcontextprotocol/protocolVersion": "v999.0.0", "io.modelcontextprotocol/clientCapabilities": {} },
        headers: { "mcp-protocol-version": "v999.0.0" },
      });
      expect(reply.status).toBe(400);
      expect(reply.body.error).toMatchObject({ code: -32022, data: { supported: [VERSION, "2025-11-25"], requested: "v999.0.0" } });
    });
  });

  it("decodes =?base64?…?= header values (non-ASCII Mcp-Name) and refuses malformed ones", async () => {
    const uri = "test://template/héllo-世界/data";
    const encoded = encodeHeaderValue(uri);
    expect(encoded).toMatch(/^=\?base64\?[A-Za-z0-9+/=]+\?=$/);
    const read = await call(url, "resources/read", { uri }, { headers: { "mcp-name": encoded } });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body.result.contents[0].text)).toMatchObject({ id: "héllo-世界" });
    expect(read.body.result).toMatchObject({ ttlMs: expect.any(Number), cacheScope: "public" });

    const other = await call(url, "resources/read", { uri }, { headers: { "mcp-name": encodeHeaderValue("test://template/hello/data") } });
    expect(other.body.error?.code).toBe(-32020);
    const badPadding = await call(url, "tools/call", { name: "greet", arguments: { name: "x" } }, { headers: { "mcp-name": "=?base64?Z3JlZXQ?=" } });
    expect(badPadding.body.error?.code).toBe(-32020);
    const good = await call(url, "tools/call", { name: "greet", arguments: { name: "x" } }, { headers: { "mcp-name": "=?base64?Z3JlZXQ=?=" } });
    expect(good.body.result?.content?.[0]?.text).toBe("Hello, x!");
  });

  it("streams subscriptions/listen: the acknowledgement, notifications/tasks, then a graceful close", async () => {
    const working = await result(url, "tools/call", { name: "confirm_delete", arguments: { filename: "listened.txt" } });
    const finished = await result(url, "tools/call", { name: "summarize", arguments: { text: "over" } });
    await waitForStatus(url, finished.taskId, ["completed"]);
    await waitForStatus(url, working.taskId, ["input_required"]);

    const listenId = `listen-${randomUUID()}`;
    const listening = call(url, "subscriptions/listen", { notifications: { taskIds: [working.taskId, finished.taskId, "not-a-task"] } }, { id: listenId });
    await sleep(150);
    const parked = await result(url, "tasks/get", { taskId: working.taskId });
    const [key] = Object.keys(parked.inputRequests);
    await result(url, "tasks/update", { taskId: working.taskId, inputResponses: { [key!]: { action: "accept", content: { confirm: true } } } });
    const reply = await listening;

    expect(reply.contentType).toContain("text/event-stream");
    const [ack, ...rest] = reply.messages;
    expect(ack).toEqual({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: { taskIds: [working.taskId, finished.taskId] }, _meta: { [SUBSCRIPTION_ID]: listenId } },
    });
    const notifications = rest.filter((message) => message.method === "notifications/tasks");
    for (const notification of notifications) expect(notification.params._meta).toEqual({ [SUBSCRIPTION_ID]: listenId });
    // The already-finished task's final state at once; the other's changes as they happen.
    expect(notifications[0]?.params).toMatchObject({ taskId: finished.taskId, status: "completed", result: { content: [{ text: "summary: over" }] } });
    const statuses = notifications.filter((n) => n.params.taskId === working.taskId).map((n) => n.params.status);
    expect(statuses.at(-1)).toBe("completed");
    expect(statuses).toContain("working");
    expect(notifications.find((n) => n.params.status === "completed" && n.params.taskId === working.taskId)?.params.result.content[0].text).toBe("Deleted listened.txt");
    // Once every subscribed task is over, the stream ends with the listen request's response.
    expect(rest.at(-1)).toMatchObject({ id: listenId, result: { resultType: "complete", _meta: { [SUBSCRIPTION_ID]: listenId } } });
  });

  it("delivers list-change notifications only to streams that asked for them", async () => {
    const id = `lists-${randomUUID()}`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", "mcp-protocol-version": VERSION, "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "subscriptions/listen",
        params: { notifications: { promptsListChanged: true, resourcesListChanged: true }, _meta: { "io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {} } },
      }),
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}: ${text}`);
        text += value;
      }
    };
    await readUntil("notifications/subscriptions/acknowledged");
    expect(parseMessages("text/event-stream", text)[0]?.params.notifications).toEqual({ promptsListChanged: true });
    await result(url, "tools/call", { name: "test_trigger_tool_change", arguments: {} });
    await result(url, "tools/call", { name: "test_trigger_prompt_change", arguments: {} });
    await readUntil("notifications/prompts/list_changed");
    await reader.cancel();
    const methods = parseMessages("text/event-stream", text).map((message) => message.method);
    expect(methods).toEqual(["notifications/subscriptions/acknowledged", "notifications/prompts/list_changed"]);
  });

  it("sends progress on the response stream when asked, and logs only with a logLevel", async () => {
    const progress = await call(url, "tools/call", { name: "test_tool_with_progress", arguments: {} }, {
      meta: {
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        progressToken: "p-1",
      },
    });
    expect(progress.contentType).toContain("text/event-stream");
    expect(progress.messages.filter((m) => m.method === "notifications/progress").map((m) => m.params.progress)).toEqual([0, 50, 100]);
    expect(progress.body.result.resultType).toBe("complete");

    const quiet = await call(url, "tools/call", { name: "test_logging_tool", arguments: {} });
    expect(quiet.messages.some((m) => m.method === "notifications/message")).toBe(false);
    const loud = await call(url, "tools/call", { name: "test_logging_tool", arguments: {} }, {
      meta: { "io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/logLevel": "info" },
    });
    expect(loud.messages.filter((m) => m.method === "notifications/message")).toHaveLength(3);
  });

  it("answers GET and DELETE with 405 (no sessions, no standalone stream)", async () => {
    for (const method of ["GET", "DELETE"]) {
      const response = await fetch(url, { method, headers: { "mcp-protocol-version": VERSION, accept: "text/event-stream" } });
      expect(response.status, method).toBe(405);
      await response.body?.cancel();
    }
  });

  it("serves the 2025-11-25 SDK path side by side, and its tasks to 2026-07-28 tasks/get and tasks/cancel", async () => {
    const client = new Client({ name: "legacy-beside-modern", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(["always_fails", "long_job", "ping_now", "slow_echo", "summarize"]);

      let legacyTaskId: string | undefined;
      for await (const message of client.experimental.tasks.callToolStream({ name: "long_job", arguments: { seconds: 30 } }, CallToolResultSchema, { task: { ttl: 30_000 } })) {
        if (message.type === "taskCreated") {
          legacyTaskId = message.task.taskId;
          break;
        }
      }
      expect(legacyTaskId).toBeDefined();

      // Interleaved: a 2026-07-28 request is served statelessly while the session lives on.
      const modern = await result(url, "tools/call", { name: "ping_now", arguments: {} });
      expect(textOf(modern)).toBe("pong");
      expect(await client.experimental.tasks.getTask(legacyTaskId!)).toMatchObject({ status: "working", ttl: 30_000 });

      // Dual serving: the legacy task in the extension's shape — even for a non-declaring client.
      for (const capabilities of [WITH_TASKS, WITHOUT_TASKS]) {
        const detailed = await result(url, "tasks/get", { taskId: legacyTaskId }, { capabilities });
        expect(detailed).toMatchObject({ taskId: legacyTaskId, status: "working", ttlMs: 30_000, pollIntervalMs: 200, resultType: "complete" });
        expect(detailed).not.toHaveProperty("ttl");
      }
      expect((await call(url, "tasks/update", { taskId: legacyTaskId, inputResponses: {} })).body.error?.code).toBe(-32602);
      expect(await result(url, "tasks/cancel", { taskId: legacyTaskId }, { capabilities: WITHOUT_TASKS })).toMatchObject({ resultType: "complete" });
      expect(await client.experimental.tasks.getTask(legacyTaskId!)).toMatchObject({ status: "cancelled" });

      const received = origin.received.filter((message) => message.taskId === legacyTaskId);
      expect(received.some((message) => message.sessionId !== undefined && message.method === "tasks/get")).toBe(true);
      expect(received.find((message) => message.protocolVersion === VERSION && message.method === "tasks/cancel")).toMatchObject({ mcpName: legacyTaskId, mcpMethod: "tasks/cancel" });
    } finally {
      await client.close();
    }
  });
});

// ---- taskward handles on 2026-07-28 follow-ups ----

const ISSUER = "https://taskward.test";

describe("demo origin, 2026-07-28 mode, verifying task handles", () => {
  let origin: DemoOrigin;
  let signingKey: CryptoKey;

  async function handleFor(task: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: "user-1", tenant: "tenant-1", client_id: "client-1", task, tool: "confirm_delete", ops: ["get", "update", "cancel"], mcp: VERSION })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "mcp-task-handle+jwt" })
      .setIssuer(ISSUER)
      .setAudience(origin.url)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(signingKey);
  }

  const withHandle = (...handles: string[]): CallOptions => ({ headers: { [TASK_HANDLE_HEADER]: handles.join(", ") } });

  beforeAll(async () => {
    const pair = await generateKeyPair("EdDSA", { extractable: true });
    signingKey = pair.privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "EdDSA" };
    origin = await startDemoOrigin({ port: 0, handleVerification: { issuer: ISSUER, jwks: { keys: [publicJwk] } }, requireHandle: true });
  });

  afterAll(async () => {
    await origin?.close();
  });

  it("answers tasks/get, tasks/update and tasks/cancel only with a handle naming the task", async () => {
    const { taskId } = await result(origin.url, "tools/call", { name: "confirm_delete", arguments: { filename: "guarded.txt" } });
    const other = await result(origin.url, "tools/call", { name: "slow_compute", arguments: { seconds: 60, label: "other" } });
    const handle = await handleFor(taskId);
    const otherHandle = await handleFor(other.taskId);

    for (const options of [{}, withHandle(otherHandle), withHandle("not-a-jws")]) {
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        const reply = await call(origin.url, method, { taskId, inputResponses: {} }, options);
        expect(reply.body.error, `${method} ${JSON.stringify(options)}`).toEqual({ code: -32602, message: "Task not found" });
      }
    }
    // The capability gate still comes first.
    expect((await call(origin.url, "tasks/get", { taskId }, { capabilities: WITHOUT_TASKS })).body.error?.code).toBe(-32021);

    const parked = await waitForStatus(origin.url, taskId, ["input_required"], withHandle(handle));
    const [key] = Object.keys(parked.inputRequests);
    expect(await result(origin.url, "tasks/update", { taskId, inputResponses: { [key!]: { action: "accept", content: { confirm: true } } } }, withHandle(handle))).toMatchObject({
      resultType: "complete",
    });
    expect(textOf((await waitForStatus(origin.url, taskId, ["completed"], withHandle(handle))).result)).toBe("Deleted guarded.txt");
    expect(await result(origin.url, "tasks/cancel", { taskId: other.taskId }, withHandle(otherHandle))).toMatchObject({ resultType: "complete" });
    expect(origin.received.at(-1)).toMatchObject({ method: "tasks/cancel", taskId: other.taskId, handle: otherHandle, mcpName: other.taskId });
  });

  it("acknowledges on subscriptions/listen only the tasks a (comma-separated) handle names", async () => {
    const a = await result(origin.url, "tools/call", { name: "summarize", arguments: { text: "a" } });
    const b = await result(origin.url, "tools/call", { name: "summarize", arguments: { text: "b" } });
    const c = await result(origin.url, "tools/call", { name: "summarize", arguments: { text: "c" } });
    const taskIds = [a.taskId, b.taskId, c.taskId];

    const unauthenticated = await call(origin.url, "subscriptions/listen", { notifications: { taskIds } });
    expect(unauthenticated.messages[0]?.params.notifications).toEqual({ taskIds: [] });

    const listened = await call(origin.url, "subscriptions/listen", { notifications: { taskIds } }, withHandle(await handleFor(a.taskId), await handleFor(c.taskId)));
    expect(listened.messages[0]?.params.notifications).toEqual({ taskIds: [a.taskId, c.taskId] });
    const notified = listened.messages.filter((m) => m.method === "notifications/tasks").map((m) => m.params.taskId);
    expect(notified.sort()).toEqual([a.taskId, c.taskId].sort());
  });
});
