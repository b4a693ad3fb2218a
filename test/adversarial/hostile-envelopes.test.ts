/**
 * Hostile JSON-RPC envelopes, bodies, content types and headers: each is refused with its exact
 * HTTP status, JSON-RPC code and message, and the origin sees nothing of it; where the right
 * answer is to forward a neutralized request (smuggled headers, foreign related-task
 * references), the test shows exactly what the origin received.
 */
import { describe, expect, it } from "vitest";
import { sealCursor } from "../../src/handle/cursor.js";
import { originRequestHeaders } from "../../src/proxy/headers.js";
import {
  ISSUER,
  McpSession,
  NOT_FOUND,
  devToken,
  expectNothingForwarded,
  expectRpcRefusal,
  forwardedSince,
  freshIdentity,
  mcpHeaders,
  modernMeta,
  originMark,
  originLog,
  ownedTask,
  rawPost,
  tag,
  testKeyRing,
  type RawReply,
} from "./support.js";

const TENANT = "adv-envelopes";
const INVALID = "Not a valid JSON-RPC 2.0 message";

/** Posts `body` as a fresh principal of TENANT with a unique session tag; returns the reply and the needles. */
async function send(body: BodyInit | null, options: { headers?: Record<string, string>; protocolVersion?: string; token?: string; drop?: string[] } = {}) {
  const token = options.token ?? (await devToken(freshIdentity(TENANT)));
  const sessionTag = tag("sess");
  const headers = mcpHeaders(token, sessionTag, options.headers ?? {}, options.protocolVersion);
  for (const name of options.drop ?? []) headers.delete(name);
  const mark = await originMark();
  const reply = await rawPost(body, headers);
  return { reply, mark, sessionTag };
}

/** One JSON-RPC refusal for a raw body, and nothing forwarded. */
async function refused(body: BodyInit | null, status: number, code: number, message: string, id: unknown = null, options: Parameters<typeof send>[1] = {}, needles: string[] = []): Promise<RawReply> {
  const { reply, mark, sessionTag } = await send(body, options);
  expectRpcRefusal(reply, status, code, message, id);
  await expectNothingForwarded(mark, [sessionTag, ...needles]);
  return reply;
}

function rpc(fields: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: "2.0", ...fields });
}

describe("JSON-RPC envelope", () => {
  it("refuses an object id", async () => {
    await refused(rpc({ id: { $ne: 1 }, method: "tools/list" }), 400, -32600, `${INVALID}: "id" must be a string or an integer`);
  });

  it("refuses a boolean id", async () => {
    await refused(rpc({ id: true, method: "tasks/get", params: { taskId: "x" } }), 400, -32600, `${INVALID}: "id" must be a string or an integer`);
  });

  it("refuses a float id", async () => {
    await refused(rpc({ id: 1.5, method: "tools/list" }), 400, -32600, `${INVALID}: "id" must be a string or an integer`);
  });

  it("refuses a null id", async () => {
    await refused(rpc({ id: null, method: "tasks/cancel", params: { taskId: "x" } }), 400, -32600, `${INVALID}: "id" must be a string or an integer`);
  });

  it("refuses a numeric method", async () => {
    await refused(rpc({ id: 1, method: 42 }), 400, -32600, `${INVALID}: "method" must be a non-empty string`);
  });

  it("refuses an empty method", async () => {
    await refused(rpc({ id: 1, method: "" }), 400, -32600, `${INVALID}: "method" must be a non-empty string`);
  });

  it("refuses string params", async () => {
    await refused(rpc({ id: 1, method: "tasks/get", params: "taskId=x" }), 400, -32600, `${INVALID}: "params" must be an object`);
  });

  it("refuses array params", async () => {
    await refused(rpc({ id: 1, method: "tasks/get", params: ["x"] }), 400, -32600, `${INVALID}: "params" must be an object`);
  });

  it("refuses null params", async () => {
    await refused(rpc({ id: 1, method: "tasks/result", params: null }), 400, -32600, `${INVALID}: "params" must be an object`);
  });

  it("refuses a missing jsonrpc member", async () => {
    await refused(JSON.stringify({ id: 1, method: "tools/list" }), 400, -32600, `${INVALID}: "jsonrpc" must be "2.0"`);
  });

  it("refuses a numeric jsonrpc 2.0", async () => {
    await refused(JSON.stringify({ jsonrpc: 2.0, id: 1, method: "tools/list" }), 400, -32600, `${INVALID}: "jsonrpc" must be "2.0"`);
  });

  it("refuses a message with both result and error and no method", async () => {
    await refused(rpc({ id: 1, result: {}, error: { code: 1, message: "x" } }), 400, -32600, `${INVALID}: "method" is required`);
  });

  it("refuses a JSON string body", async () => {
    await refused(JSON.stringify("tasks/get"), 400, -32600, `${INVALID}: expected an object`);
  });

  it("refuses a JSON null body", async () => {
    await refused("null", 400, -32600, `${INVALID}: expected an object`);
  });

  it("refuses an empty body", async () => {
    await refused("", 400, -32700, "Request body is not valid JSON");
  });

  it("refuses truncated JSON", async () => {
    await refused('{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"', 400, -32700, "Request body is not valid JSON");
  });

  it("refuses a body that is not UTF-8", async () => {
    const bytes = new TextEncoder().encode(rpc({ id: 1, method: "tools/list", params: { x: "__" } }));
    bytes.set([0xc3, 0x28], bytes.indexOf(0x5f));
    await refused(bytes, 400, -32700, "Request body is not valid JSON");
  });
});

describe("taskId of a follow-up", () => {
  const message = (method: string) => `Invalid params: ${method} requires params.taskId to be a non-empty string`;

  it("refuses a numeric taskId", async () => {
    await refused(rpc({ id: "n", method: "tasks/get", params: { taskId: 42 } }), 400, -32602, message("tasks/get"), "n");
  });

  it("refuses a null taskId", async () => {
    await refused(rpc({ id: "n", method: "tasks/result", params: { taskId: null } }), 400, -32602, message("tasks/result"), "n");
  });

  it("refuses an array taskId (even one holding a string)", async () => {
    await refused(rpc({ id: "n", method: "tasks/cancel", params: { taskId: ["x"] } }), 400, -32602, message("tasks/cancel"), "n");
  });

  it("refuses an object taskId", async () => {
    await refused(rpc({ id: "n", method: "tasks/get", params: { taskId: { toString: "x" } } }), 400, -32602, message("tasks/get"), "n");
  });

  it("refuses an empty taskId", async () => {
    await refused(rpc({ id: "n", method: "tasks/get", params: { taskId: "" } }), 400, -32602, message("tasks/get"), "n");
  });

  it("refuses params without a taskId", async () => {
    await refused(rpc({ id: "n", method: "tasks/cancel", params: {} }), 400, -32602, message("tasks/cancel"), "n");
  });

  it("refuses a follow-up without params", async () => {
    await refused(rpc({ id: "n", method: "tasks/result" }), 400, -32602, message("tasks/result"), "n");
  });

  it("refuses a taskId smuggled through __proto__", async () => {
    await refused('{"jsonrpc":"2.0","id":"n","method":"tasks/get","params":{"__proto__":{"taskId":"x"}}}', 400, -32602, message("tasks/get"), "n");
  });

  it("answers a whitespace-only taskId like an unknown task", async () => {
    await refused(rpc({ id: "n", method: "tasks/get", params: { taskId: "   " } }), 200, NOT_FOUND.code, NOT_FOUND.message, "n");
  });
});

describe("batches", () => {
  const BATCH = "JSON-RPC batches are not supported by MCP Streamable HTTP";

  it("refuses a batch of one request", async () => {
    await refused(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/list" }]), 400, -32600, BATCH);
  });

  it("refuses a batch carrying the caller's own valid follow-up, whole", async () => {
    const task = await ownedTask(TENANT);
    const body = JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: task.handle } },
      { jsonrpc: "2.0", id: 2, method: "tasks/cancel", params: { taskId: "someone-elses" } },
    ]);
    await refused(body, 400, -32600, BATCH, null, { token: task.session.token }, [task.handle, task.originTaskId]);
  });

  it("refuses an empty batch", async () => {
    await refused("[]", 400, -32600, BATCH);
  });
});

describe("size and nesting (MAX_BODY_BYTES = 65536 in tests)", () => {
  const TOO_LARGE = "Request body exceeds the configured limit";

  it("refuses a body one byte over the limit", async () => {
    const skeleton = rpc({ id: 1, method: "tools/list", params: { pad: "" } });
    const body = rpc({ id: 1, method: "tools/list", params: { pad: "x".repeat(65_537 - skeleton.length) } });
    expect(body.length).toBe(65_537);
    await refused(body, 413, -32600, TOO_LARGE);
  });

  it("refuses a huge streamed body without a Content-Length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16_384));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"'));
      },
      pull(controller) {
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    await refused(stream, 413, -32600, TOO_LARGE);
  });

  it("refuses a megabyte body declared by Content-Length", async () => {
    await refused(rpc({ id: 1, method: "tasks/get", params: { taskId: "x".repeat(1_048_576) } }), 413, -32600, TOO_LARGE);
  });

  it("refuses a follow-up with deeply nested params (5000 levels) before looking at its handle", async () => {
    const body = `{"jsonrpc":"2.0","id":"deep","method":"tasks/get","params":{"taskId":"x","deep":${"[".repeat(5000)}${"]".repeat(5000)}}}`;
    await refused(body, 400, -32600, "Not a valid JSON-RPC 2.0 message: nested deeper than 100 levels", "deep");
  });

  it("refuses deeply nested params (2500 levels) on a pass-through method instead of forwarding them", async () => {
    // Kept below the ~4000 levels at which Node's JSON.stringify overflows, so that while this
    // is forwarded it does not break the shared demo origin's /__demo/received log (at 30 000
    // levels it does: any Node origin that re-serializes a request is crashed by one 60 KB body).
    const body = `{"jsonrpc":"2.0","id":"deep","method":"tools/list","params":{"deep":${"[".repeat(2500)}${"]".repeat(2500)}}}`;
    const { reply, mark, sessionTag } = await send(body);
    expect({ status: reply.status, code: reply.body?.error?.code, id: reply.body?.id }).toEqual({ status: 400, code: -32600, id: "deep" });
    expect(reply.body.error.message).toMatch(/^Not a valid JSON-RPC 2\.0 message/);
    await expectNothingForwarded(mark, [sessionTag]);
  });

  it("refuses deeply nested JSON sent as a batch", async () => {
    await refused(`[${"[".repeat(10_000)}${"]".repeat(10_000)}]`, 400, -32600, "JSON-RPC batches are not supported by MCP Streamable HTTP");
  });
});

describe("content types", () => {
  const MEDIA = "Content-Type must be application/json";
  const body = rpc({ id: 1, method: "tasks/get", params: { taskId: "x" } });

  it("refuses text/plain", async () => {
    await refused(body, 415, -32700, MEDIA, null, { headers: { "content-type": "text/plain" } });
  });

  it("refuses a missing Content-Type", async () => {
    await refused(new TextEncoder().encode(body), 415, -32700, MEDIA, null, { drop: ["content-type"] });
  });

  it("refuses application/x-www-form-urlencoded", async () => {
    await refused("jsonrpc=2.0&id=1&method=tasks%2Fget&params[taskId]=x", 415, -32700, MEDIA, null, { headers: { "content-type": "application/x-www-form-urlencoded" } });
  });

  it("refuses multipart/form-data", async () => {
    await refused(`--b\r\nContent-Disposition: form-data; name="m"\r\n\r\n${body}\r\n--b--\r\n`, 415, -32700, MEDIA, null, { headers: { "content-type": "multipart/form-data; boundary=b" } });
  });

  it("refuses application/jsonp (a prefix look-alike)", async () => {
    await refused(body, 415, -32700, MEDIA, null, { headers: { "content-type": "application/jsonp" } });
  });

  it("refuses a wrong Content-Type before looking at credentials", async () => {
    await refused(body, 415, -32700, MEDIA, null, { headers: { "content-type": "text/html" }, drop: ["authorization"] });
  });
});

describe("duplicate and disguised members", () => {
  it("decides on the last of duplicate taskId members (a foreign one) and forwards nothing", async () => {
    const task = await ownedTask(TENANT);
    const body = `{"jsonrpc":"2.0","id":"dup","method":"tasks/get","params":{"taskId":"${task.handle}","taskId":"not-mine"}}`;
    await refused(body, 200, NOT_FOUND.code, NOT_FOUND.message, "dup", { token: task.session.token }, [task.handle, task.originTaskId]);
  });

  it("decides on the last of duplicate method members", async () => {
    const body = `{"jsonrpc":"2.0","id":"dup","method":"tools/list","params":{"taskId":"not-a-handle"},"method":"tasks/cancel"}`;
    await refused(body, 200, NOT_FOUND.code, NOT_FOUND.message, "dup", {}, ["not-a-handle"]);
  });

  it("forwards exactly what it decided on when duplicates put a valid handle last (no parser differential)", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const id = tag("dup2");
    const body = `{"jsonrpc":"2.0","id":"${id}","method":"tasks/get","params":{"taskId":"someone-elses-task","taskId":"${task.handle}"}}`;
    const response = await task.session.post(body);
    expect(response.status).toBe(200);
    await response.text();
    const forwarded = (await originLog()).slice(mark).filter((m) => m.id === id);
    expect(forwarded.map((m) => [m.method, m.taskId, m.params])).toEqual([["tasks/get", task.originTaskId, { taskId: task.originTaskId }]]);
  });

  it("refuses a task follow-up sent as a notification (no id) instead of forwarding it unchecked", async () => {
    const task = await ownedTask(TENANT);
    const body = rpc({ method: "tasks/cancel", params: { taskId: task.handle } });
    const { reply, mark, sessionTag } = await send(body, { token: task.session.token });
    expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status: 400, code: -32600 });
    await expectNothingForwarded(mark, [sessionTag, task.handle, task.originTaskId]);
  });

  it("never forwards a notification-shaped tasks/cancel naming a raw origin task id", async () => {
    const task = await ownedTask(TENANT);
    const intruderToken = await devToken(freshIdentity(TENANT));
    const body = rpc({ method: "tasks/cancel", params: { taskId: task.originTaskId } });
    const { reply, mark, sessionTag } = await send(body, { token: intruderToken });
    expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status: 400, code: -32600 });
    await expectNothingForwarded(mark, [sessionTag, task.originTaskId]);
  });

  it("strips another principal's handle from related-task in a client response", async () => {
    const task = await ownedTask(TENANT);
    const intruderToken = await devToken(freshIdentity(TENANT));
    const body = rpc({ id: "resp-1", result: { content: [], _meta: { "io.modelcontextprotocol/related-task": { taskId: task.handle } } } });
    const { mark, sessionTag } = await send(body, { token: intruderToken });
    const forwarded = (await originLog()).slice(mark).filter((m) => m.userAgent?.includes(sessionTag));
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.taskId).toBeUndefined();
    expect(await forwardedSince(mark, [task.handle, task.originTaskId])).toEqual([]);
  });

  it("strips a raw origin task id from related-task in a client response", async () => {
    const task = await ownedTask(TENANT);
    const body = rpc({ id: "resp-2", result: { content: [], _meta: { "io.modelcontextprotocol/related-task": { taskId: task.originTaskId } } } });
    const { mark, sessionTag } = await send(body, { token: task.session.token });
    const forwarded = (await originLog()).slice(mark).filter((m) => m.userAgent?.includes(sessionTag));
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.taskId).toBeUndefined();
    expect(await forwardedSince(mark, [task.originTaskId])).toEqual([]);
  });
});

describe("tasks/list cursors", () => {
  const BAD_CURSOR = "Invalid params: cursor is not one this authority issued to you";

  it("refuses a cursor sealed for another principal", async () => {
    const ring = await testKeyRing();
    const sealed = await sealCursor("origin-cursor-1", { tenant: TENANT, clientId: "someone", subject: "else" }, ring, ISSUER);
    await refused(rpc({ id: "c", method: "tasks/list", params: { cursor: sealed } }), 400, -32602, BAD_CURSOR, "c", {}, ["origin-cursor-1"]);
  });

  it("refuses a task handle presented as a cursor", async () => {
    const task = await ownedTask(TENANT);
    await refused(rpc({ id: "c", method: "tasks/list", params: { cursor: task.handle } }), 400, -32602, BAD_CURSOR, "c", { token: task.session.token }, [task.handle, task.originTaskId]);
  });

  it("refuses a raw (origin-style) cursor", async () => {
    await refused(rpc({ id: "c", method: "tasks/list", params: { cursor: "b3JpZ2luLWN1cnNvcg" } }), 400, -32602, BAD_CURSOR, "c");
  });

  it("refuses a numeric cursor", async () => {
    await refused(rpc({ id: "c", method: "tasks/list", params: { cursor: 2 } }), 400, -32602, BAD_CURSOR, "c");
  });
});

describe("2026-07-28 routing headers must agree with the body (400 / -32020)", () => {
  async function modern(method: string, params: Record<string, unknown>, headers: Record<string, string | string[]>, token?: string) {
    const id = tag("rq");
    const sessionTag = tag("sess");
    const h = mcpHeaders(token ?? (await devToken(freshIdentity(TENANT))), sessionTag, {}, "2026-07-28");
    h.set("mcp-method", method);
    for (const [name, value] of Object.entries(headers)) {
      h.delete(name);
      for (const v of Array.isArray(value) ? value : [value]) h.append(name, v);
    }
    const mark = await originMark();
    const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: modernMeta(true) } }), h);
    return { reply, id, mark, sessionTag };
  }

  it("refuses an Mcp-Name naming another task than params.taskId", async () => {
    const task = await ownedTask(TENANT);
    const { reply, id, mark, sessionTag } = await modern("tasks/get", { taskId: task.handle }, { "mcp-name": "other-task" }, task.session.token);
    expectRpcRefusal(reply, 400, -32020, `Header mismatch: Mcp-Name header value 'other-task' does not match body value '${task.handle}'`, id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
  });

  it("refuses an Mcp-Name carrying the raw origin task id behind the handle", async () => {
    const task = await ownedTask(TENANT);
    const { reply, id, mark, sessionTag } = await modern("tasks/cancel", { taskId: task.handle }, { "mcp-name": task.originTaskId }, task.session.token);
    expectRpcRefusal(reply, 400, -32020, `Header mismatch: Mcp-Name header value '${task.originTaskId}' does not match body value '${task.handle}'`, id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
  });

  it("refuses an Mcp-Method lying about a follow-up (body tasks/get, header tools/list)", async () => {
    const { reply, id, mark, sessionTag } = await modern("tasks/get", { taskId: "x" }, { "mcp-method": "tools/list", "mcp-name": "x" });
    expectRpcRefusal(reply, 400, -32020, "Header mismatch: Mcp-Method header value 'tools/list' does not match body value 'tasks/get'", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });

  it("refuses an Mcp-Method lying the other way (body tools/call, header tasks/cancel)", async () => {
    const { reply, id, mark, sessionTag } = await modern("tools/call", { name: "summarize", arguments: { text: "x" } }, { "mcp-method": "tasks/cancel" });
    expectRpcRefusal(reply, 400, -32020, "Header mismatch: Mcp-Method header value 'tasks/cancel' does not match body value 'tools/call'", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });

  it("refuses an MCP-Protocol-Version header that disagrees with _meta", async () => {
    const id = tag("rq");
    const sessionTag = tag("sess");
    const headers = mcpHeaders(await devToken(freshIdentity(TENANT)), sessionTag, { "mcp-method": "tasks/get", "mcp-name": "x" }, "2026-07-28");
    const meta = { ...modernMeta(true), "io.modelcontextprotocol/protocolVersion": "2027-01-01" };
    const mark = await originMark();
    const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: "x", _meta: meta } }), headers);
    expectRpcRefusal(reply, 400, -32020, "Header mismatch: MCP-Protocol-Version header value '2026-07-28' does not match body value '2027-01-01'", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });

  it("refuses a 2025-11-25 MCP-Protocol-Version header on a body whose _meta says 2026-07-28 (revision confusion)", async () => {
    // The edge would apply 2025-11-25 rules (no routing-header check, a policy-forbidden tool
    // keeps its tasks-extension declaration, no creation rate limit) to a request an origin may
    // read as 2026-07-28.
    const id = tag("rq");
    const sessionTag = tag("sess");
    const headers = mcpHeaders(await devToken(freshIdentity(TENANT)), sessionTag, {}, "2025-11-25");
    const mark = await originMark();
    const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "summarize", arguments: { text: "x" }, _meta: modernMeta(true) } }), headers);
    expectRpcRefusal(reply, 400, -32020, "Header mismatch: MCP-Protocol-Version header value '2025-11-25' does not match body value '2026-07-28'", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });

  it("refuses an Mcp-Name whose =?base64?…?= value does not decode", async () => {
    const { reply, id, mark, sessionTag } = await modern("tasks/get", { taskId: "x" }, { "mcp-name": "=?base64?//79?=" });
    expectRpcRefusal(reply, 400, -32020, "Header mismatch: a =?base64?…?= header value does not decode", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });

  it("refuses a base64-encoded Mcp-Name of a different task", async () => {
    const task = await ownedTask(TENANT);
    const encoded = `=?base64?${btoa("other-task")}?=`;
    const { reply, id, mark, sessionTag } = await modern("tasks/get", { taskId: task.handle }, { "mcp-name": encoded }, task.session.token);
    expectRpcRefusal(reply, 400, -32020, `Header mismatch: Mcp-Name header value '${encoded}' does not match body value '${task.handle}'`, id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
  });

  it("refuses duplicate Mcp-Name headers (combined by fetch)", async () => {
    const task = await ownedTask(TENANT);
    const { reply, id, mark, sessionTag } = await modern("tasks/get", { taskId: task.handle }, { "mcp-name": [task.handle, "other-task"] }, task.session.token);
    expectRpcRefusal(reply, 400, -32020, `Header mismatch: Mcp-Name header value '${task.handle}, other-task' does not match body value '${task.handle}'`, id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
  });

  it("refuses duplicate Mcp-Method headers", async () => {
    const { reply, id, mark, sessionTag } = await modern("tasks/get", { taskId: "x" }, { "mcp-method": ["tasks/get", "tools/list"], "mcp-name": "x" });
    expectRpcRefusal(reply, 400, -32020, "Header mismatch: Mcp-Method header value 'tasks/get, tools/list' does not match body value 'tasks/get'", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });
});

describe("header smuggling", () => {
  it("ignores a client-sent Taskward-Task-Handle (a valid handle) on a follow-up for an unknown id", async () => {
    const task = await ownedTask(TENANT);
    const { reply, mark, sessionTag } = await send(rpc({ id: "smuggle", method: "tasks/get", params: { taskId: "not-a-handle" } }), {
      token: task.session.token,
      headers: { "taskward-task-handle": task.handle },
    });
    expectRpcRefusal(reply, 200, NOT_FOUND.code, NOT_FOUND.message, "smuggle");
    await expectNothingForwarded(mark, [sessionTag, task.handle, task.originTaskId, "not-a-handle"]);
  });

  it("refuses a follow-up whose (2025-11-25, unchecked) Mcp-Method claims a harmless method", async () => {
    const { reply, mark, sessionTag } = await send(rpc({ id: "lie", method: "tasks/cancel", params: { taskId: "not-a-handle" } }), {
      headers: { "mcp-method": "tools/list", "mcp-name": "not-a-handle" },
    });
    expectRpcRefusal(reply, 200, NOT_FOUND.code, NOT_FOUND.message, "lie");
    await expectNothingForwarded(mark, [sessionTag, "not-a-handle"]);
  });

  it("forwards a pass-through request without the client's Taskward-Task-Handle, Mcp-Method or Mcp-Name", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const id = tag("passthrough");
    const response = await task.session.post({ jsonrpc: "2.0", id, method: "tools/list", params: {} }, { "taskward-task-handle": task.handle, "mcp-method": "tasks/cancel", "mcp-name": task.originTaskId });
    expect(response.status).toBe(200);
    await response.text();
    const forwarded = (await originLog()).slice(mark).filter((m) => m.id === id);
    expect(forwarded.map((m) => [m.method, m.handle, m.mcpMethod, m.mcpName])).toEqual([["tools/list", undefined, undefined, undefined]]);
  });

  it("builds origin headers without credentials, cookies, forwarding headers or a client-sent handle", () => {
    const client = new Headers({
      authorization: "Bearer caller-secret",
      "proxy-authorization": "Basic eDp5",
      cookie: "session=1",
      "x-forwarded-for": "10.0.0.1",
      forwarded: "for=10.0.0.1",
      host: "origin.internal",
      "taskward-task-handle": "smuggled",
      "x-api-key": "k",
      "content-type": "application/json",
      "mcp-session-id": "s",
    });
    const headers = originRequestHeaders(client, { version: "2025-11-25", routing: [] });
    expect([...headers.keys()].sort()).toEqual(["content-type", "mcp-protocol-version", "mcp-session-id"]);
    expect(originRequestHeaders(client, { version: "2025-11-25", routing: [], handle: "the-verified-handle" }).get("taskward-task-handle")).toBe("the-verified-handle");
  });

  it("refuses a follow-up sent on another principal's session like an unknown session (session ids are bound to their principal)", async () => {
    const task = await ownedTask(TENANT);
    const intruder = await McpSession.open(freshIdentity(TENANT));
    intruder.sessionId = task.session.sessionId;
    const mark = await originMark();
    const reply = await intruder.request("tasks/result", { taskId: task.handle });
    expect({ status: reply.status, error: reply.messages[0]?.error }).toEqual({ status: 404, error: { code: -32001, message: "Session not found" } });
    await expectNothingForwarded(mark, [task.handle, task.originTaskId]);
  });
});
