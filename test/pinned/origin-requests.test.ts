/**
 * An origin→client request (elicitation/create with a related-task, or a request naming
 * params.taskId) is relayed with the caller's handle when the caller owns the task, and dropped
 * otherwise: never forwarded with the raw origin id. Driven through the fault origin's
 * server-requests mode, behind one /switch/<key> so the tasks and the request share an audience.
 */
import { describe, expect, it } from "vitest";
import { devToken } from "../support/mcp-client.js";
import { callApp, claimsOf, faultEnv, ledgerRecord, mcpRequest, messagesOf, setSwitch, uniqueTenant } from "../adversarial/fault-support.js";

async function createTask(env: ReturnType<typeof faultEnv>, token: string): Promise<{ handle: string; originId: string }> {
  const outcome = await callApp(env, mcpRequest(token, { jsonrpc: "2.0", id: "create", method: "tools/call", params: { name: "work", arguments: {}, task: { ttl: 60_000 } } }));
  const handle = messagesOf(outcome)[0]?.result?.task?.taskId as string;
  expect(typeof handle, outcome.text).toBe("string");
  // The handle names no origin task; the ledger maps its jti to it.
  const { tenant, jti } = claimsOf(handle)!;
  return { handle, originId: (await ledgerRecord(tenant, jti))!.taskId as string };
}

async function askAbout(env: ReturnType<typeof faultEnv>, token: string, originId: string) {
  const outcome = await callApp(env, mcpRequest(token, { jsonrpc: "2.0", id: "ask", method: "tools/call", params: { name: "ask", arguments: { taskId: originId } } }));
  expect(outcome.status).toBe(200);
  expect(outcome.contentType).toContain("text/event-stream");
  return { text: outcome.text, messages: messagesOf(outcome) };
}

describe("an origin answering about another task than the one asked", () => {
  it("is refused 502 / -32603, and the other task's id is not shown", async () => {
    const key = uniqueTenant("other-task");
    const env = faultEnv(`/switch/${key}`);
    const alice = await devToken({ tenant: uniqueTenant("other-task"), client_id: "c", sub: "alice" });
    const mine = await createTask(env, alice);
    await setSwitch(key, "other-task");
    for (const method of ["tasks/get", "tasks/cancel"]) {
      const outcome = await callApp(env, mcpRequest(alice, { jsonrpc: "2.0", id: "q", method, params: { taskId: mine.handle } }));
      expect(outcome.status, method).toBe(502);
      expect(JSON.parse(outcome.text)).toEqual({ jsonrpc: "2.0", id: "q", error: { code: -32603, message: "The origin MCP server returned an invalid response" } });
      expect(outcome.text).not.toContain("ORIGIN-TASK-");
    }
  });
});

describe("origin→client requests naming a task", () => {
  async function setup() {
    const key = uniqueTenant("srv-req");
    const env = faultEnv(`/switch/${key}`);
    const tenant = uniqueTenant("srv-req");
    const alice = await devToken({ tenant, client_id: "c", sub: "alice" });
    const bob = await devToken({ tenant, client_id: "c", sub: "bob" });
    const mine = await createTask(env, alice);
    const theirs = await createTask(env, bob);
    await setSwitch(key, "server-requests");
    return { env, alice, mine, theirs };
  }

  it("about the caller's own task: relayed with the caller's handle in place of the origin id", async () => {
    const { env, alice, mine } = await setup();
    const { text, messages } = await askAbout(env, alice, mine.originId);
    const related = messages.find((m) => m.id === "srv-related");
    const direct = messages.find((m) => m.id === "srv-direct");
    expect(related?.params?._meta?.["io.modelcontextprotocol/related-task"]).toEqual({ taskId: mine.handle });
    expect(direct?.params?.taskId).toBe(mine.handle);
    expect(messages.find((m) => m.id === "ask")?.result).toEqual({ content: [{ type: "text", text: "asked" }] });
    expect(text).not.toContain(mine.originId);
  });

  it("about another principal's task: both requests dropped, the origin id never shown", async () => {
    const { env, alice, theirs } = await setup();
    const { text, messages } = await askAbout(env, alice, theirs.originId);
    expect(messages.map((m) => m.id)).toEqual(["ask"]);
    expect(messages[0]?.result).toEqual({ content: [{ type: "text", text: "asked" }] });
    expect(text).not.toContain(theirs.originId);
    expect(text).not.toContain(theirs.handle);
  });

  it("about a task nobody owns: both requests dropped", async () => {
    const { env, alice } = await setup();
    const ghost = `ORIGIN-TASK-${crypto.randomUUID()}`;
    const { text, messages } = await askAbout(env, alice, ghost);
    expect(messages.map((m) => m.id)).toEqual(["ask"]);
    expect(text).not.toContain(ghost);
  });
});
