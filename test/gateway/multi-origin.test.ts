/**
 * Several origins behind one authority (ORIGINS in vitest.config.ts: "main", the default, also at
 * /mcp; "beta", a second demo origin, at /mcp/beta). A handle is bound to its origin's audience:
 * used behind another origin it answers exactly like an unknown task and is never forwarded.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { mintDevToken } from "../../src/auth/dev-issuer.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { resign, testKeyRing } from "../adversarial/support.js";
import { auditOf } from "../adversarial/fault-support.js";
import {
  ALICE,
  McpSession,
  call2026,
  adminFetch,
  decodeClaims,
  devToken,
  everyOriginReceived,
  forwardedFor,
  originReceived,
  originTaskIdOf,
  worker,
  type Identity,
} from "../support/mcp-client.js";

const RELATED = "io.modelcontextprotocol/related-task";

function who(tenant: string): Identity {
  return { tenant, client_id: "c", sub: `s-${crypto.randomUUID().slice(0, 8)}` };
}

function expectTaskNotFound(reply: { status: number; reply: Record<string, any> | undefined }) {
  expect(reply.status).toBe(200);
  expect(reply.reply?.error).toEqual({ code: -32602, message: "Task not found" });
}

/** Whether either demo origin received a message with this JSON-RPC id, or anything on behalf of this handle. */
async function reachedAnOrigin(ids: unknown[], handle: string): Promise<boolean> {
  const received = await everyOriginReceived();
  return received.some((m) => ids.includes(m.id) || forwardedFor(m, handle));
}

describe("cross-origin handle use (2025-11-25)", () => {
  it("a handle minted behind /mcp is refused behind /mcp/beta for get, result and cancel like a forged one, and never forwarded", async () => {
    const tenant = "xo-2025";
    const identity = who(tenant);
    const owner = await McpSession.open(identity, "/mcp");
    const { handle } = await owner.createTask("slow_echo", { text: "mine", delayMs: 50 });
    const intruder = await McpSession.open(identity, "/mcp/beta");
    const ids: string[] = [];
    for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
      const id = `xo-${crypto.randomUUID()}`;
      ids.push(id);
      const response = await intruder.post({ jsonrpc: "2.0", id, method, params: { taskId: handle } });
      const body = (await response.json()) as Record<string, any>;
      expect({ status: response.status, error: body.error }).toEqual({ status: 200, error: { code: -32602, message: "Task not found" } });
    }
    const forged = await intruder.request("tasks/get", { taskId: `${handle.slice(0, -4)}AAAA` });
    expectTaskNotFound(forged);
    expect(await reachedAnOrigin(ids, handle)).toBe(false);
    // The audit trail says why: a genuine handle of another origin.
    const denials = (await auditOf(tenant)).filter((e) => e.type === "denied" && e.jti === decodeClaims(handle).jti);
    expect(denials.map((e) => e.reason)).toContain("origin_mismatch");
    // Behind its own origin it still works.
    expect((await owner.request("tasks/get", { taskId: handle })).reply?.result?.taskId).toBe(handle);
  });

  it("a handle minted behind /mcp/beta is refused behind /mcp and /mcp/main, and never forwarded", async () => {
    const identity = who("xo-2025-rev");
    const owner = await McpSession.open(identity, "/mcp/beta");
    const { handle } = await owner.createTask("long_job", { seconds: 30 });
    expect(decodeClaims(handle).aud).not.toBe(decodeClaims((await (await McpSession.open(identity, "/mcp")).createTask("slow_echo", { text: "x", delayMs: 0 })).handle).aud);
    const ids: string[] = [];
    for (const path of ["/mcp", "/mcp/main"]) {
      const intruder = await McpSession.open(identity, path);
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        const id = `xo-${crypto.randomUUID()}`;
        ids.push(id);
        const body = (await (await intruder.post({ jsonrpc: "2.0", id, method, params: { taskId: handle } })).json()) as Record<string, any>;
        expect(body.error).toEqual({ code: -32602, message: "Task not found" });
      }
    }
    expect(await reachedAnOrigin(ids, handle)).toBe(false);
    expect((await owner.request("tasks/get", { taskId: handle })).reply?.result?.taskId).toBe(handle);
  });

  it("an inbound related-task reference to another origin's handle is removed before forwarding", async () => {
    const identity = who("xo-related");
    const owner = await McpSession.open(identity, "/mcp");
    const { handle } = await owner.createTask("slow_echo", { text: "r", delayMs: 0 });
    const beta = await McpSession.open(identity, "/mcp/beta");
    const response = await beta.notify("notifications/progress", { progressToken: "p", progress: 1, _meta: { [RELATED]: { taskId: handle } } });
    expect(response.status).toBe(202);
    const forwarded = (await originReceived("betaOriginUrl")).filter((m) => (m as Record<string, any>).assertion?.sub === identity.sub && m.method === "notifications/progress");
    expect(forwarded.length).toBe(1);
    expect(forwarded[0]!.params?._meta?.[RELATED]).toBeUndefined();
    expect(JSON.stringify(forwarded[0])).not.toContain(await originTaskIdOf(handle));
  });
});

describe("cross-origin handle use (2026-07-28)", () => {
  it("tasks/get with Mcp-Name, tasks/update and tasks/cancel behind another origin answer like an unknown task and are never forwarded", async () => {
    const identity = who("xo-2026");
    const created = await call2026(identity, "tools/call", { name: "slow_compute", arguments: { seconds: 5, label: "b" } }, { path: "/mcp/beta", name: "slow_compute" });
    expect(created.reply?.result?.resultType, created.text).toBe("task");
    const handle = created.reply!.result.taskId as string;
    const ids: string[] = [];
    for (const [method, params] of [
      ["tasks/get", { taskId: handle }],
      ["tasks/update", { taskId: handle, inputResponses: { k: { action: "accept", content: {} } } }],
      ["tasks/cancel", { taskId: handle }],
    ] as const) {
      const id = `xo-${crypto.randomUUID()}`;
      ids.push(id);
      const refused = await call2026(identity, method, params, { path: "/mcp", name: handle, id });
      expect({ status: refused.status, error: refused.reply?.error }, refused.text).toEqual({ status: 200, error: { code: -32602, message: "Task not found" } });
    }
    expect(await reachedAnOrigin(ids, handle)).toBe(false);
    const own = await call2026(identity, "tasks/get", { taskId: handle }, { path: "/mcp/beta", name: handle });
    expect(own.reply?.result?.taskId, own.text).toBe(handle);
  });
});

describe("routing", () => {
  it("answers an unknown origin name with 404 and a JSON error naming it, for POST, GET and DELETE", async () => {
    const token = await devToken(ALICE);
    for (const method of ["POST", "GET", "DELETE"]) {
      const response = await worker().fetch("https://taskward.test/mcp/nope", {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        ...(method === "POST" ? { body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) } : {}),
      });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: "unknown_origin", message: 'No origin named "nope" is configured' });
    }
  });

  it("mints handles behind each origin with that origin's audience", async () => {
    const identity = who("xo-aud");
    const main = await (await McpSession.open(identity, "/mcp")).createTask("slow_echo", { text: "a", delayMs: 0 });
    const viaName = await (await McpSession.open(identity, "/mcp/main")).createTask("slow_echo", { text: "a", delayMs: 0 });
    const beta = await (await McpSession.open(identity, "/mcp/beta")).createTask("long_job", { seconds: 30 });
    expect(decodeClaims(main.handle).aud).toBe(decodeClaims(viaName.handle).aud);
    expect(decodeClaims(beta.handle).aud).not.toBe(decodeClaims(main.handle).aud);
    // Each call reached its own origin only (found by the caller its origin assertion names).
    const longJobsOf = (received: Array<Record<string, any>>) => received.filter((m) => m.assertion?.sub === identity.sub && m.method === "tools/call" && m.params?.name === "long_job");
    expect(longJobsOf(await originReceived("betaOriginUrl"))).toHaveLength(1);
    expect(longJobsOf(await originReceived("originUrl"))).toHaveLength(0);
  });
});

describe("per-origin state", () => {
  it("a session opened at /mcp used at /mcp/beta answers like an unknown session (404)", async () => {
    const session = await McpSession.open(who("xo-session"), "/mcp");
    const id = `xo-${crypto.randomUUID()}`;
    const response = await session.at("/mcp/beta").post({ jsonrpc: "2.0", id, method: "ping" });
    expect(response.status).toBe(404);
    expect(((await response.json()) as Record<string, any>).error).toEqual({ code: -32001, message: "Session not found" });
    expect((await everyOriginReceived()).some((m) => m.id === id)).toBe(false);
    // The same session at /mcp/main (the default origin's own path) is the same origin.
    expect((await session.at("/mcp/main").request("ping")).reply?.result).toEqual({});
  });

  it("session refusals count per origin: a caller refused past the limit behind /mcp/beta still polls its own task behind /mcp", async () => {
    const identity = who("xo-session-limit");
    const main = await McpSession.open(identity, "/mcp");
    const { handle } = await main.createTask("slow_echo", { text: "x", delayMs: 0 });
    const statuses: number[] = [];
    // The default origin's session used behind beta: refused (session_mismatch), then rate limited, never forwarded.
    for (let i = 0; i < 30; i++) statuses.push((await main.at("/mcp/beta").post({ jsonrpc: "2.0", id: `xo-limit-${i}`, method: "ping" })).status);
    expect(statuses).toEqual([...Array(29).fill(404), 429]);
    const polled = await main.request("tasks/get", { taskId: handle });
    expect(polled.reply?.error).toBeUndefined();
    expect(polled.reply?.result?.taskId).toBe(handle);
  });

  it("tasks/list behind each origin lists only the handles minted for that origin", async () => {
    const identity = who("xo-list");
    const main = await McpSession.open(identity, "/mcp");
    const beta = await McpSession.open(identity, "/mcp/beta");
    const mine = await main.createTask("slow_echo", { text: "m", delayMs: 0 });
    const theirs = await beta.createTask("long_job", { seconds: 30 });
    const listedAtMain = ((await main.request("tasks/list", {})).reply?.result?.tasks ?? []).map((t: { taskId: string }) => t.taskId);
    const listedAtBeta = ((await beta.request("tasks/list", {})).reply?.result?.tasks ?? []).map((t: { taskId: string }) => t.taskId);
    expect(listedAtMain).toContain(mine.handle);
    expect(listedAtMain).not.toContain(theirs.handle);
    expect(listedAtBeta).toContain(theirs.handle);
    expect(listedAtBeta).not.toContain(mine.handle);
  });

  it("per-origin policy: slow_echo may not be a task behind beta (refused before the origin), and tools/list says so", async () => {
    const identity = who("xo-policy");
    const beta = await McpSession.open(identity, "/mcp/beta");
    const id = `xo-${crypto.randomUUID()}`;
    const body = (await (await beta.post({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow_echo", arguments: { text: "x" }, task: { ttl: 1000 } } })).json()) as Record<string, any>;
    expect(body.error).toEqual({ code: -32601, message: "Policy forbids running tool slow_echo as a task" });
    expect((await everyOriginReceived()).some((m) => m.id === id)).toBe(false);
    const supportAt = async (session: McpSession) =>
      Object.fromEntries(((await session.request("tools/list", {})).reply?.result.tools as Array<{ name: string; execution?: { taskSupport?: string } }>).map((t) => [t.name, t.execution?.taskSupport]));
    expect((await supportAt(beta)).slow_echo).toBe("forbidden");
    expect((await supportAt(await McpSession.open(identity, "/mcp"))).slow_echo).toBe("required");
    // long_job is capped at 30 s by the default origin's policy only.
    const { reply } = await beta.createTask("long_job", { seconds: 30 }, 3_600_000);
    expect(reply.reply?.result.task.ttl).toBe(3_600_000);
  });
});

describe("per-origin limits and resources", () => {
  it("creation slots count per origin: exhausting beta's leaves the default origin's untouched (which keeps its old key)", async () => {
    const tenant = "xo-limits";
    const ledger = ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant);
    const caller = { tenant, clientId: "c", subject: "s" };
    for (let i = 0; i < 40; i++) expect((await ledger.reserveCreation(tenant, { ...caller, origin: "beta" })).reserved).toBe(true);
    expect(await ledger.reserveCreation(tenant, { ...caller, origin: "beta" })).toMatchObject({ reserved: false });
    expect((await ledger.reserveCreation(tenant, caller)).reserved).toBe(true);
    // Through the edge: the same principal still creates behind /mcp, not behind /mcp/beta.
    const identity = { tenant, client_id: "c", sub: "s" };
    const id = `xo-${crypto.randomUUID()}`;
    const refused = (await (await (await McpSession.open(identity, "/mcp/beta")).post({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "long_job", arguments: { seconds: 30 }, task: { ttl: 60_000 } } })).json()) as Record<string, any>;
    expect(refused.error?.code).toBe(-32029);
    expect((await everyOriginReceived()).some((m) => m.id === id)).toBe(false);
    expect((await (await McpSession.open(identity, "/mcp")).createTask("slow_echo", { text: "x", delayMs: 0 })).handle).toMatch(/\./);
  });

  it("a caller token for /mcp/beta's resource works there only; one for /mcp works at every origin path", async () => {
    const betaToken = (await mintDevToken({ tenant: "xo-aud-token", client_id: "c", sub: "s" }, await testKeyRing(), "https://taskward.test", "https://taskward.test/mcp/beta")).token;
    const ping = (path: string, token: string) =>
      worker().fetch(`https://taskward.test${path}`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": { name: "t", version: "0" }, "io.modelcontextprotocol/clientCapabilities": {} } } }) });
    expect((await ping("/mcp/beta", betaToken)).status).toBe(200);
    expect((await ping("/mcp", betaToken)).status).toBe(401);
    expect((await ping("/mcp/main", betaToken)).status).toBe(401);
    const authorityToken = await devToken(who("xo-aud-token"));
    for (const path of ["/mcp", "/mcp/main", "/mcp/beta"]) expect((await ping(path, authorityToken)).status).toBe(200);
  });
});

describe("RFC 9728 metadata per resource", () => {
  it("serves each origin path its own document; /mcp and the bare document stay the default's", async () => {
    const get = async (path: string) => (await (await worker().fetch(`https://taskward.test/.well-known/oauth-protected-resource${path}`)).json()) as Record<string, any>;
    expect((await get("")).resource).toBe("https://taskward.test/mcp");
    expect((await get("/mcp")).resource).toBe("https://taskward.test/mcp");
    expect((await get("/mcp/beta")).resource).toBe("https://taskward.test/mcp/beta");
    expect((await worker().fetch("https://taskward.test/.well-known/oauth-protected-resource/mcp/nope")).status).toBe(404);
  });

  it("a 401 at /mcp/beta points resource_metadata at its own document", async () => {
    const response = await worker().fetch("https://taskward.test/mcp/beta", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('resource_metadata="https://taskward.test/.well-known/oauth-protected-resource/mcp/beta"');
  });
});

describe("operators across origins", () => {
  it("revoke with cancel finds the origin from the handle's aud and sends the cancel to that origin only", async () => {
    const identity = who("xo-admin-cancel");
    const beta = await McpSession.open(identity, "/mcp/beta");
    const { handle } = await beta.createTask("long_job", { seconds: 30 });
    const task = await originTaskIdOf(handle);
    const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle, cancel: true }) });
    const body = (await response.json()) as Record<string, any>;
    expect(response.status).toBe(200);
    expect(body.cancellations).toEqual([expect.objectContaining({ task, outcome: "cancelled" })]);
    const cancelsOf = (received: Array<Record<string, any>>) => received.filter((m) => m.method === "tasks/cancel" && m.taskId === task);
    expect(cancelsOf(await originReceived("betaOriginUrl"))).toHaveLength(1);
    expect(cancelsOf(await originReceived("originUrl"))).toHaveLength(0);
    // The cancel's origin assertion was for beta's audience: beta verified it.
    expect(cancelsOf(await originReceived("betaOriginUrl"))[0]!.assertion).toMatchObject({ op: "cancel", task });
    expectTaskNotFound(await beta.request("tasks/get", { taskId: handle }));
  });

  it("delegation of another origin's handle mints the child for that origin, usable only behind it", async () => {
    const identity = who("xo-admin-delegate");
    const beta = await McpSession.open(identity, "/mcp/beta");
    const { handle } = await beta.createTask("long_job", { seconds: 30 });
    const response = await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle, to: { client_id: "c", sub: "helper" }, ops: ["get"] }) });
    expect(response.status).toBe(201);
    const child = ((await response.json()) as { handle: string }).handle;
    expect(decodeClaims(child).aud).toBe(decodeClaims(handle).aud);
    const helper = { ...identity, sub: "helper" };
    expect((await (await McpSession.open(helper, "/mcp/beta")).request("tasks/get", { taskId: child })).reply?.result?.taskId).toBe(child);
    expectTaskNotFound(await (await McpSession.open(helper, "/mcp")).request("tasks/get", { taskId: child }));
  });

  it("refuses, with a message saying why, a handle whose audience is no configured origin", async () => {
    const { handle } = await (await McpSession.open(who("xo-admin-aud"), "/mcp/beta")).createTask("long_job", { seconds: 30 });
    // Signed with this authority's key: only the audience is wrong.
    const alien = await resign(handle, { claims: (c) => ({ ...c, aud: "https://elsewhere.example/mcp" }) });
    const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: alien }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain("for any configured origin");
  });
});
