import { describe, expect, it } from "vitest";
import { ALICE, McpSession, devToken, originReceived, worker } from "../support/mcp-client.js";

async function post(body: string, headers: Record<string, string>): Promise<Response> {
  return worker().fetch("https://taskward.test/mcp", { method: "POST", headers, body });
}

async function receivedCount(): Promise<number> {
  return (await originReceived()).length;
}

describe("bad input gets a clear error and is never forwarded", () => {
  it("refuses a missing bearer token with 401 and an RFC 9728 challenge", async () => {
    const before = await receivedCount();
    const response = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), { "content-type": "application/json" });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer resource_metadata="https://taskward.test/.well-known/oauth-protected-resource"');
    expect(await response.json()).toMatchObject({ error: { code: -32001, message: expect.stringContaining("Bearer") } });
    expect(await receivedCount()).toBe(before);
  });

  it("refuses a wrong bearer token with 401 invalid_token", async () => {
    for (const authorization of ["Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer " + "a.b.c"]) {
      const response = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), { "content-type": "application/json", authorization });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
  });

  it("refuses a handle presented as a bearer token", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x" });
    const response = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), { "content-type": "application/json", authorization: `Bearer ${handle}` });
    expect(response.status).toBe(401);
  });

  const cases: Array<[string, string, Record<string, string>, number, number, RegExp]> = [
    ["a non-JSON body", "this is not json", {}, 400, -32700, /not valid JSON/],
    ["JSON-RPC without method", JSON.stringify({ jsonrpc: "2.0", id: 1 }), {}, 400, -32600, /"method" is required/],
    ["a batch array", JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/list" }]), {}, 400, -32600, /batches are not supported/],
    ["a wrong jsonrpc version", JSON.stringify({ jsonrpc: "1.0", id: 1, method: "x" }), {}, 400, -32600, /"jsonrpc" must be "2.0"/],
    ["an object id", JSON.stringify({ jsonrpc: "2.0", id: { a: 1 }, method: "tools/list" }), {}, 400, -32600, /"id" must be/],
    ["array params", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: [1] }), {}, 400, -32600, /"params" must be an object/],
    ["a numeric taskId", JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tasks/get", params: { taskId: 42 } }), {}, 400, -32602, /taskId to be a non-empty string/],
    ["a missing taskId", JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tasks/cancel", params: {} }), {}, 400, -32602, /taskId/],
    ["tools/call without a name", JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { arguments: {} } }), {}, 400, -32602, /params.name/],
    ["a text/plain content type", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), { "content-type": "text/plain" }, 415, -32700, /application\/json/],
    ["an oversized body", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { pad: "x".repeat(70_000) } }), {}, 413, -32600, /exceeds/],
  ];
  for (const [label, body, extraHeaders, status, code, message] of cases) {
    it(`refuses ${label}`, async () => {
      const token = await devToken(ALICE);
      const before = await receivedCount();
      const response = await post(body, { "content-type": "application/json", authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-11-25", ...extraHeaders });
      expect(response.status).toBe(status);
      const reply = (await response.json()) as { jsonrpc: string; error: { code: number; message: string } };
      expect(reply.jsonrpc).toBe("2.0");
      expect(reply.error.code).toBe(code);
      expect(reply.error.message).toMatch(message);
      expect(await receivedCount()).toBe(before);
    });
  }

  it("echoes the request id in envelope errors when it is known", async () => {
    const token = await devToken(ALICE);
    const response = await post(JSON.stringify({ jsonrpc: "2.0", id: "req-9", method: "tasks/get", params: { taskId: false } }), {
      "content-type": "application/json", authorization: `Bearer ${token}`,
    });
    expect(((await response.json()) as { id: unknown }).id).toBe("req-9");
  });

  it("never passes a client-supplied handle header or credentials to the origin", async () => {
    const session = await McpSession.open();
    const id = `smuggle-${crypto.randomUUID()}`;
    await (await session.post({ jsonrpc: "2.0", id, method: "tools/list", params: {} }, { "taskward-task-handle": "smuggled", cookie: "session=1" })).text();
    // This request's own entry (the log is shared with files running in parallel).
    const mine = (await originReceived()).filter((m) => m.id === id && m.method === "tools/list");
    expect(mine).toHaveLength(1);
    expect(mine[0]?.handle).toBeUndefined();
  });

  it("answers 405 for other methods on /mcp and 404 elsewhere", async () => {
    expect((await worker().fetch("https://taskward.test/mcp", { method: "PUT" })).status).toBe(405);
    expect((await worker().fetch("https://taskward.test/nope")).status).toBe(404);
  });
});

describe("initialize", () => {
  it("withdraws the client's offer of client-hosted tasks, which taskward does not broker", async () => {
    const session = await McpSession.open();
    const clientName = `withdraw-${crypto.randomUUID()}`;
    await session.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: { tasks: { list: {}, cancel: {}, requests: { sampling: { createMessage: {} }, elicitation: { create: {} }, tools: { call: {} } } } },
      clientInfo: { name: clientName, version: "0" },
    });
    const forwarded = (await originReceived()).filter((m) => m.method === "initialize" && (m as { params?: any }).params?.clientInfo?.name === clientName) as Array<{ params?: any }>;
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]?.params?.capabilities.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
  });
});
