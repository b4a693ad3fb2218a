/**
 * Per-call origin assertions: signed by the edge (src/proxy/origin-assertion.ts), verified by
 * `taskward/origin` (verifyOriginAssertion, originAssertionMiddleware), and enforced by the demo
 * origin, which the edge reaches in the workers project.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { JSONWebKeySet } from "jose";
import { mintHandle } from "../../src/handle/mint.js";
import {
  AssertionReplayCache,
  ORIGIN_ASSERTION_HEADER,
  TASK_HANDLE_HEADER,
  originAssertionMiddleware,
  verifyOriginAssertion,
  type OriginAssertionErrorCode,
  type OriginAssertionVariables,
} from "../../src/origin/index.js";
import { signOriginAssertion, type OriginAssertionInput } from "../../src/proxy/origin-assertion.js";
import { McpSession, adminFetch, decodeClaims, freshIdentity, originLog, originMark, tag, testKeyRing } from "../adversarial/support.js";

const ISSUER = "https://taskward.test";
const TENANT = "origin-assertions";
const jwks = JSON.parse(inject("publicJwks")) as JSONWebKeySet;
const audience = inject("originUrl");
const PRINCIPAL = { tenant: TENANT, clientId: "cli", subject: "sub", authTime: 0, scopes: [], via: "dev" as const };

function body(method: string, params: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: "2.0", id: 7, method, params });
}

async function assertion(overrides: Partial<OriginAssertionInput> & { bodyText: string }): Promise<string> {
  return signOriginAssertion({
    keyRing: await testKeyRing(),
    issuer: ISSUER,
    audience,
    ttlSeconds: 60,
    principal: PRINCIPAL,
    op: "get",
    task: "origin-task-1",
    handleJti: "handle-jti",
    txn: "txn-1",
    body: new TextEncoder().encode(overrides.bodyText),
    ...overrides,
  });
}

const options = () => ({ issuer: ISSUER, audience, jwks, replayCache: new AssertionReplayCache() });

async function refusedWith(code: OriginAssertionErrorCode, token: string | undefined, bodyText: string, extra: Record<string, unknown> = {}): Promise<void> {
  await expect(verifyOriginAssertion(token, { body: bodyText }, { ...options(), ...extra })).rejects.toMatchObject({ name: "OriginAssertionError", code });
}

describe("verifyOriginAssertion", () => {
  const get = body("tasks/get", { taskId: "origin-task-1" });

  it("returns the typed claims of a valid assertion", async () => {
    const claims = await verifyOriginAssertion(await assertion({ bodyText: get }), { body: get }, options());
    expect(claims).toMatchObject({ iss: ISSUER, aud: audience, tenant: TENANT, client_id: "cli", sub: "sub", op: "get", task: "origin-task-1", handle_jti: "handle-jti", txn: "txn-1" });
    expect(claims.exp - claims.iat).toBe(60);
  });

  it("refuses a missing assertion", async () => {
    await refusedWith("ERR_ASSERTION_MISSING", undefined, get);
  });

  it("refuses the assertion with another body (one byte changed)", async () => {
    await refusedWith("ERR_ASSERTION_BODY_MISMATCH", await assertion({ bodyText: get }), get.replace('"id":7', '"id":8'));
  });

  it("refuses an assertion replayed within its lifetime", async () => {
    const token = await assertion({ bodyText: get });
    const shared = options();
    await verifyOriginAssertion(token, { body: get }, shared);
    await expect(verifyOriginAssertion(token, { body: get }, shared)).rejects.toMatchObject({ code: "ERR_ASSERTION_REPLAYED" });
  });

  it("refuses an assertion replayed after its lifetime, even without a replay cache", async () => {
    const token = await assertion({ bodyText: get, ttlSeconds: 2 });
    await refusedWith("ERR_ASSERTION_EXPIRED", token, get, { replayCache: false, now: () => Date.now() + 8_000 });
  });

  it("refuses an assertion older than maxAgeSeconds whatever its exp", async () => {
    const token = await assertion({ bodyText: get, ttlSeconds: 3600 });
    await refusedWith("ERR_ASSERTION_EXPIRED", token, get, { maxAgeSeconds: 30, now: () => Date.now() + 40_000 });
  });

  it("refuses another audience and another issuer", async () => {
    await refusedWith("ERR_ASSERTION_CLAIM", await assertion({ bodyText: get, audience: "https://other-origin.example/mcp" }), get);
    await refusedWith("ERR_ASSERTION_CLAIM", await assertion({ bodyText: get, issuer: "https://evil.example" }), get);
  });

  it("refuses an operation that is not the JSON-RPC method's (get decided, cancel sent)", async () => {
    const cancel = body("tasks/cancel", { taskId: "origin-task-1" });
    await refusedWith("ERR_ASSERTION_OP_MISMATCH", await assertion({ bodyText: cancel, op: "get" }), cancel);
    const create = body("tools/call", { name: "slow_echo", arguments: {} });
    await refusedWith("ERR_ASSERTION_OP_MISMATCH", await assertion({ bodyText: create, op: "message", task: undefined }), create);
  });

  it("refuses an assertion for another task than params.taskId", async () => {
    const other = body("tasks/get", { taskId: "origin-task-2" });
    await refusedWith("ERR_ASSERTION_TASK_MISMATCH", await assertion({ bodyText: other }), other);
  });

  it("refuses a task handle presented as an assertion (typ differs)", async () => {
    const { token } = await mintHandle(
      { sub: "sub", tenant: TENANT, client_id: "cli", task: "origin-task-1", tool: "slow_echo", ops: ["get"], mcp: "2025-11-25", exp: Math.floor(Date.now() / 1000) + 60 },
      { keyRing: await testKeyRing(), issuer: ISSUER, audience },
    );
    await refusedWith("ERR_ASSERTION_INVALID", token, get);
  });

  it("the Hono middleware exposes the claims and answers 403 with the code otherwise", async () => {
    const app = new Hono<{ Variables: OriginAssertionVariables }>();
    app.use("/mcp", originAssertionMiddleware(options()));
    app.post("/mcp", async (c) => c.json({ op: c.get("originAssertion").op, echoed: (await c.req.json()).id }));
    const ok = await app.request("/mcp", { method: "POST", headers: { [ORIGIN_ASSERTION_HEADER]: await assertion({ bodyText: get }) }, body: get });
    expect({ status: ok.status, body: await ok.json() }).toEqual({ status: 200, body: { op: "get", echoed: 7 } });
    const refused = await app.request("/mcp", { method: "POST", body: get });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: -32001, data: { code: "ERR_ASSERTION_MISSING" } } });
  });
});

describe("through the edge to the demo origin", () => {
  it("every forwarded call carries an assertion whose txn is in the decision's audit event", async () => {
    const identity = freshIdentity(TENANT);
    const session = await McpSession.open(identity);
    const mark = await originMark();
    const { handle } = await session.createTask("slow_echo", { text: "asserted", delayMs: 20 });
    await session.request("tasks/get", { taskId: handle });
    // The client's session id is sealed; the origin's entries are found by the asserted caller.
    const forwarded = (await originLog()).slice(mark).filter((m) => m.assertion?.sub === identity.sub);
    const create = forwarded.find((m) => m.method === "tools/call");
    const poll = forwarded.find((m) => m.method === "tasks/get");
    expect(create?.assertion).toMatchObject({ op: "create", sub: identity.sub });
    expect(poll?.assertion).toMatchObject({ op: "get", task: poll?.taskId, handleJti: decodeClaims(handle).jti, sub: identity.sub });
    const audit = new TextDecoder().decode(await (await adminFetch(`/tenants/${TENANT}/audit?limit=10000`)).arrayBuffer());
    const events = audit.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
    const issued = events.find((e) => e.type === "issued" && e.jti === decodeClaims(handle).jti);
    const allowed = events.find((e) => e.type === "allowed" && e.jti === decodeClaims(handle).jti);
    expect(JSON.parse(issued!.detail).txn).toBe(create!.assertion.txn);
    expect(JSON.parse(allowed!.detail).txn).toBe(poll!.assertion.txn);
  });

  it("a handle copied from a client and sent straight to the origin (same session, old header) opens nothing", async () => {
    const identity = freshIdentity(TENANT);
    const session = await McpSession.open(identity);
    const mark = await originMark();
    const { handle } = await session.createTask("slow_echo", { text: "leaked", delayMs: 20 });
    await session.request("tasks/get", { taskId: handle });
    const poll = (await originLog()).slice(mark).find((m) => m.method === "tasks/get" && m.assertion?.sub === identity.sub)!;
    const originTaskId = poll.taskId as string;
    // The origin's own session id (the client only holds a sealed one).
    const originSessionId = poll.sessionId as string;
    for (const taskId of [originTaskId, handle]) {
      const id = tag("direct");
      const response = await fetch(audience, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", "mcp-session-id": originSessionId, [TASK_HANDLE_HEADER]: handle },
        body: JSON.stringify({ jsonrpc: "2.0", id, method: "tasks/result", params: { taskId } }),
      });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ id, error: { code: -32001, data: { code: "ERR_ASSERTION_MISSING" } } });
    }
  });

  it("a client-sent Taskward-Origin-Assertion never reaches the origin: the edge's own replaces it", async () => {
    const identity = freshIdentity(TENANT);
    const session = await McpSession.open(identity);
    const forged = await assertion({ bodyText: "{}", op: "message", task: undefined });
    const mark = await originMark();
    const id = tag("list");
    const response = await session.post({ jsonrpc: "2.0", id, method: "tools/list", params: {} }, { [ORIGIN_ASSERTION_HEADER]: forged });
    expect(response.status).toBe(200);
    await response.text();
    const forwarded = (await originLog()).slice(mark).filter((m) => m.id === id && m.method === "tools/list");
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.assertionToken).not.toBe(forged);
    expect(forwarded[0]!.assertion).toMatchObject({ op: "message" });
    expect(forwarded[0]!.assertion.refused).toBeUndefined();
  });

  it("an assertion signed for one body is refused by the origin with another body", async () => {
    const identity = freshIdentity(TENANT);
    const session = await McpSession.open(identity);
    const mark = await originMark();
    const { handle } = await session.createTask("slow_echo", { text: "body-swap", delayMs: 20 });
    await session.request("tasks/get", { taskId: handle });
    const poll = (await originLog()).slice(mark).find((m) => m.method === "tasks/get" && m.assertion?.sub === identity.sub)!;
    const swapped = (poll.bodyText as string).replace('"tasks/get"', '"tasks/cancel"');
    const response = await fetch(audience, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": poll.sessionId as string, [ORIGIN_ASSERTION_HEADER]: poll.assertionToken as string },
      body: swapped,
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { data: { code: "ERR_ASSERTION_BODY_MISMATCH" } } });
  });
});
