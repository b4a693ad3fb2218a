import { describe, expect, it } from "vitest";
import { ALICE, McpSession, devToken, decodeClaims, forwardedFor, originReceived, originTaskIdOf, worker } from "../support/mcp-client.js";

const TASKS_EXT = "io.modelcontextprotocol/tasks";

function modernMeta(declareTasks: boolean) {
  return {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "t", version: "0" },
    "io.modelcontextprotocol/clientCapabilities": declareTasks ? { extensions: { [TASKS_EXT]: {} } } : {},
  };
}

async function modern(method: string, params: Record<string, unknown>, options: { declareTasks?: boolean; headers?: Record<string, string> } = {}) {
  const token = await devToken(ALICE);
  const response = await worker().fetch("https://taskward.test/mcp", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...options.headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: modernMeta(options.declareTasks ?? true) } }),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: number; message: string; data?: any } } };
}

async function forwardedSince(count: number) {
  return (await originReceived()).slice(count);
}

describe("2026-07-28 refusals happen at the edge, in the spec's order", () => {
  it("tasks/result and tasks/list are 404 / -32601 whatever their params", async () => {
    const before = (await originReceived()).length;
    for (const method of ["tasks/result", "tasks/list"]) {
      const { status, body } = await modern(method, { taskId: "tasks-conformance-isolation-probe" });
      expect(status).toBe(404);
      expect(body.error?.code).toBe(-32601);
    }
    expect(await forwardedSince(before)).toEqual([]);
  });

  it("tasks/get|update|cancel without the extension declared are 400 / -32021 with requiredCapabilities", async () => {
    const before = (await originReceived()).length;
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      const { status, body } = await modern(method, { taskId: "gate-test" }, { declareTasks: false, headers: { "mcp-name": "gate-test" } });
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXT]: {} } } } });
    }
    expect(await forwardedSince(before)).toEqual([]);
  });

  it("an unknown task id with the extension declared is -32602", async () => {
    const { body } = await modern("tasks/get", { taskId: "tasks-conformance-nonexistent-12345" }, { headers: { "mcp-name": "tasks-conformance-nonexistent-12345" } });
    expect(body.error).toEqual({ code: -32602, message: "Task not found" });
  });

  it("a Mcp-Name that disagrees with params.taskId is 400 / -32020, even for a valid handle", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    const before = (await originReceived()).length;
    const { status, body } = await modern("tasks/get", { taskId: handle }, { headers: { "mcp-name": "sep-2663-wrong-task-id-for-routing-header-mismatch" } });
    expect(status).toBe(400);
    expect(body.error?.code).toBe(-32020);
    expect(await forwardedSince(before)).toEqual([]);
  });

  it("a Mcp-Method that disagrees with the body is 400 / -32020", async () => {
    const { status, body } = await modern("tools/call", { name: "greet", arguments: { name: "x" } }, { headers: { "mcp-method": "tasks/get" } });
    expect(status).toBe(400);
    expect(body.error?.code).toBe(-32020);
  });

  it("a 2025-11-25 handle stays usable for tasks/get under 2026-07-28 (dual serving) with Mcp-Name rewritten to the origin id", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    const before = (await originReceived()).length;
    const { body } = await modern("tasks/get", { taskId: handle }, { declareTasks: false, headers: { "mcp-name": handle } });
    expect(body.error?.code).not.toBe(-32021);
    const forwarded = await forwardedSince(before);
    expect(forwarded.map((m) => [m.method, m.taskId, forwardedFor(m, handle)])).toEqual([["tasks/get", await originTaskIdOf(handle), true]]);
  });

  it("a 2025-11-25 handle cannot be used for tasks/update under 2026-07-28", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    const before = (await originReceived()).length;
    const { body } = await modern("tasks/update", { taskId: handle, inputResponses: {} }, { headers: { "mcp-name": handle } });
    expect(body.error).toEqual({ code: -32602, message: "Task not found" });
    expect(await forwardedSince(before)).toEqual([]);
  });

  it("routing headers are not forwarded for 2025-11-25 requests", async () => {
    const session = await McpSession.open();
    const before = (await originReceived()).length;
    await session.request("tools/list", {}, { "mcp-method": "tools/list", "mcp-name": "smuggle" });
    expect((await forwardedSince(before)).map((m) => m.method)).toEqual(["tools/list"]);
  });
});
