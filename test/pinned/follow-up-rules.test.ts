/**
 * Follow-up rules pinned through /mcp and the ledger's RPC: step-up on tasks/result and its age
 * boundary, the binding of a tasks/list cursor to its tenant AND client, and the protocol-revision
 * rule for handles.
 */
import { unseal } from "../../src/handle/seal.js";
import { loadKeyRing } from "../../src/handle/keyring.js";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { McpSession, decodeClaims, devToken, originReceived, originSessionIdOf, parseSseMessages, worker, type Identity } from "../support/mcp-client.js";
import { devTokenAuthenticatedAgo } from "../support/tokens.js";

const NOT_FOUND = { code: -32602, message: "Task not found" };
const ledger = (tenant: string) => ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant);

function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Origin log entries of one MCP session (each test opens its own, so the shared log cannot mislead). */
async function receivedBySession(session: McpSession): Promise<Array<Record<string, any>>> {
  // The client holds a sealed session id; the origin logs its own.
  const originSession = await originSessionIdOf(session);
  return ((await originReceived()) as Array<Record<string, any>>).filter((entry) => entry.sessionId === originSession && entry.method !== "ping");
}

describe("step-up (long_job: maxAuthAgeSeconds 300; result and cancel need it)", () => {
  async function stepUpTask(ageSeconds: number) {
    const identity = { tenant: "pin-step", client_id: "c", sub: unique("s") };
    const fresh = await McpSession.open(identity);
    const { handle } = await fresh.createTask("long_job", { seconds: 1 });
    const aged = fresh.withToken(await devTokenAuthenticatedAgo(identity, ageSeconds));
    return { identity, fresh, aged, handle };
  }

  it("tasks/result with an authentication 330 s old is refused 403 / -32003 and not forwarded", async () => {
    const { aged, handle } = await stepUpTask(330);
    const refused = await aged.request("tasks/result", { taskId: handle });
    expect(refused.status).toBe(403);
    expect(refused.reply?.error).toEqual({ code: -32003, message: "This operation requires an authentication at most 300 seconds old", data: { maxAge: 300 } });
    expect(refused.headers.get("www-authenticate")).toBe('Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=300');
    expect((await receivedBySession(aged)).filter((m) => m.method === "tasks/result")).toEqual([]);
    const denial = (await ledger("pin-step").auditEvents("pin-step", 0, 100_000)).events.filter((e) => e.jti === decodeClaims(handle).jti && e.type === "denied");
    expect(denial.map((e) => [e.op, e.reason])).toEqual([["result", "step_up_required"]]);
  });

  it("tasks/result with an authentication 270 s old is answered", async () => {
    const { aged, handle } = await stepUpTask(270);
    const answered = await aged.request("tasks/result", { taskId: handle });
    expect(answered.status).toBe(200);
    expect(answered.reply?.result?.content?.[0]?.type).toBe("text");
    expect(answered.reply?.error).toBeUndefined();
  });

  it("the boundary: an age of exactly maxAuthAgeSeconds passes, one second more does not", async () => {
    const tenant = unique("pin-step-edge");
    const owner = { tenant, clientId: "c", subject: "s" };
    const now = Date.now();
    await ledger(tenant).issue(tenant, {
      jti: "j", taskId: "origin-j", handle: "h", originHandle: "oh", principal: owner, tool: "long_job", ops: ["get", "result", "cancel"], mcp: "2025-11-25",
      bind: ["tenant", "client", "subject"], maxAuthAgeSeconds: 300, stepUpOps: ["result", "cancel"], status: "working", issuedAt: now, expiresAt: now + 60_000,
    });
    // The ledger computes the age in whole seconds; retry if the second turned during the call.
    async function decide(age: number) {
      for (;;) {
        const second = Math.floor(Date.now() / 1000);
        const decision = await ledger(tenant).authorize(tenant, "j", "result", { ...owner, authTime: second - age });
        if (Math.floor(Date.now() / 1000) === second) return decision;
      }
    }
    expect(await decide(300)).toMatchObject({ allowed: true });
    expect(await decide(301)).toEqual({ allowed: false, reason: "step_up_required", maxAuthAgeSeconds: 300 });
    expect(await decide(0)).toMatchObject({ allowed: true });
  });
});

describe("a tasks/list cursor is bound to its tenant and its client (and subject)", () => {
  async function pagedList(identity: Identity) {
    const session = await McpSession.open(identity);
    for (let i = 0; i < 12; i++) await session.createTask("slow_echo", { text: `p${i}`, delayMs: 0 });
    const first = await session.request("tasks/list", {});
    const cursor = first.reply?.result?.nextCursor;
    expect(cursor).toBeTypeOf("string");
    // Sealed (encrypted, only this authority opens it) for an hour, to the lister.
    const sealed = (await unseal("cursor", cursor, await loadKeyRing(inject("signingJwks"))))!;
    expect({ tenant: sealed.tenant, client_id: sealed.client_id, sub: sealed.sub }).toEqual({ tenant: identity.tenant, client_id: identity.client_id, sub: identity.sub });
    const lifetime = (sealed.exp as number) - Math.floor(Date.now() / 1000);
    expect(lifetime > 3590 && lifetime <= 3600, `lifetime ${lifetime}`).toBe(true);
    return { session, cursor: cursor as string };
  }

  const owner = (): Identity => ({ tenant: unique("pin-cursor"), client_id: "c1", sub: "pager" });
  for (const [label, other] of [
    ["another client, same tenant and subject", (o: Identity) => ({ ...o, client_id: "c2" })],
    ["another tenant, same client and subject", (o: Identity) => ({ ...o, tenant: `${o.tenant}-x` })],
    ["another subject, same tenant and client", (o: Identity) => ({ ...o, sub: "other" })],
  ] as const) {
    it(`${label}: refused 400 / -32602 and not forwarded`, async () => {
      const identity = owner();
      const { session, cursor } = await pagedList(identity);
      const stranger = await McpSession.open(other(identity));
      const stolen = await stranger.request("tasks/list", { cursor });
      expect({ status: stolen.status, error: stolen.reply?.error }).toEqual({ status: 400, error: { code: -32602, message: "Invalid params: cursor is not one this authority issued to you" } });
      expect((await receivedBySession(stranger)).filter((m) => m.method === "tasks/list")).toEqual([]);
      // The owner's own cursor still pages.
      const second = await session.request("tasks/list", { cursor });
      expect(second.reply?.result?.tasks?.length).toBeGreaterThan(0);
    });
  }
});

describe("protocol-revision rule for handles", () => {
  const TASKS_EXT = "io.modelcontextprotocol/tasks";
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "pin", version: "0" },
    "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS_EXT]: {} } },
  };

  async function modern(identity: Identity, method: string, params: Record<string, unknown>, id: string) {
    const response = await worker().fetch("https://taskward.test/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${await devToken(identity)}`,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": method,
        ...(typeof params.taskId === "string" ? { "mcp-name": params.taskId } : typeof params.name === "string" ? { "mcp-name": params.name } : {}),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: meta } }),
    });
    const text = await response.text();
    const messages = (response.headers.get("content-type") ?? "").startsWith("text/event-stream") ? parseSseMessages(text) : text ? [JSON.parse(text)] : [];
    return { status: response.status, reply: messages.find((m) => m.id === id) as Record<string, any> | undefined };
  }

  async function forwardedWith(id: string): Promise<number> {
    return (await originReceived()).filter((entry) => JSON.stringify(entry).includes(id)).length;
  }

  async function revisionDenials(tenant: string, jti: string) {
    const { events } = await ledger(tenant).auditEvents(tenant, 0, 100_000);
    // A repeated refusal folds into its span: its event names the span's first (`span`), which is not compared here.
    return events.filter((e) => e.jti === jti && e.type === "denied").map((e) => {
      const { span: _span, ...detail } = JSON.parse(e.detail ?? "null") as Record<string, unknown>;
      return { reason: e.reason, detail };
    });
  }

  it("a 2026-07-28 handle is refused under 2025-11-25 (get and cancel), audited with both revisions", async () => {
    const identity = { tenant: unique("pin-rev"), client_id: "c", sub: "s" };
    const created = await modern(identity, "tools/call", { name: "slow_echo", arguments: { text: "r", delayMs: 0 } }, unique("create"));
    const handle = created.reply?.result?.taskId as string;
    expect(created.reply?.result?.resultType).toBe("task");
    // The demo origin's 2026 tasks live 300 s, under every cap: the origin's ttlMs is kept.
    expect(created.reply?.result?.ttlMs).toBe(300_000);
    const legacy = await McpSession.open(identity);
    for (const method of ["tasks/get", "tasks/cancel"]) {
      const refused = await legacy.request(method, { taskId: handle });
      expect(refused.reply?.error).toEqual(NOT_FOUND);
    }
    expect((await receivedBySession(legacy)).filter((m) => m.method?.startsWith("tasks/"))).toEqual([]);
    expect(await revisionDenials(identity.tenant, decodeClaims(handle).jti)).toEqual([
      { reason: "operation_not_allowed", detail: { op: "get", minted: "2026-07-28", used: "2025-11-25" } },
      { reason: "operation_not_allowed", detail: { op: "cancel", minted: "2026-07-28", used: "2025-11-25" } },
    ]);
  });

  it("a 2025-11-25 handle crosses over to 2026-07-28 for get and cancel, not for update", async () => {
    const identity = { tenant: unique("pin-rev-cross"), client_id: "c", sub: "s" };
    const legacy = await McpSession.open(identity);
    const { handle } = await legacy.createTask("slow_echo", { text: "x", delayMs: 0 });
    const getId = unique("get");
    const got = await modern(identity, "tasks/get", { taskId: handle }, getId);
    expect(got.reply?.result?.taskId).toBe(handle);
    expect(await forwardedWith(getId)).toBe(1);
    const updateId = unique("update");
    const update = await modern(identity, "tasks/update", { taskId: handle, inputResponses: {} }, updateId);
    expect(update.reply?.error).toEqual(NOT_FOUND);
    expect(await forwardedWith(updateId)).toBe(0);
    expect(await revisionDenials(identity.tenant, decodeClaims(handle).jti)).toEqual([
      { reason: "operation_not_allowed", detail: { op: "update", minted: "2025-11-25", used: "2026-07-28" } },
    ]);
    const cancelId = unique("cancel");
    const cancelled = await modern(identity, "tasks/cancel", { taskId: handle }, cancelId);
    expect(cancelled.reply?.error).toBeUndefined();
    expect(await forwardedWith(cancelId)).toBe(1);
  });
});
