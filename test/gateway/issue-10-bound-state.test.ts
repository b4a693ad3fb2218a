/**
 * Issue 10, findings 3, 4, 5 and 8: state the authority hands out (sessions, handles, cursors,
 * delegations) stays bound to who received it and to the policy in force when it is used.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.js";
import { devTokenAuthenticatedAgo } from "../support/tokens.js";
import { McpSession, adminFetch, decodeClaims, originReceived, readReply, worker as workerFetcher, type Identity } from "../support/mcp-client.js";

function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Every dot-separated part of a compact token, base64url-decoded to text (what anyone can read). */
function readableParts(token: string): string {
  return token
    .split(".")
    .map((part) => {
      try {
        const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
        return binary;
      } catch {
        return "";
      }
    })
    .join("\n");
}

/** The origin task id behind a handle, from the operator's view of the ledger. */
async function originTaskIdOf(tenant: string, handle: string): Promise<string> {
  const response = await adminFetch(`/tenants/${tenant}/tasks/${decodeClaims(handle).jti}`);
  expect(response.status).toBe(200);
  const record = (await response.json()) as { taskId: string };
  expect(typeof record.taskId).toBe("string");
  return record.taskId;
}

async function receivedWithId(id: string) {
  return (await originReceived()).filter((m) => m.id === id);
}

describe("finding 3: sessions are bound to the principal that opened them", () => {
  const owner: Identity = { tenant: "sess-owner", client_id: "cli-s", sub: "owner" };
  const sameTenant: Identity = { tenant: "sess-owner", client_id: "cli-s", sub: "mallory" };
  const otherTenant: Identity = { tenant: "sess-other", client_id: "cli-s", sub: "owner" };

  it("refuses a POST carrying another principal's session id (same tenant or another), like an unknown session, and forwards nothing", async () => {
    const alice = await McpSession.open(owner);
    expect(alice.sessionId).toBeTruthy();
    for (const intruder of [sameTenant, otherTenant]) {
      const hijack = await McpSession.open(intruder);
      hijack.sessionId = alice.sessionId;
      const marker = unique("hijack");
      const response = await hijack.post({ jsonrpc: "2.0", id: marker, method: "tools/list" });
      expect(response.status).toBe(404);
      const body = (await response.json()) as { error: { code: number; message: string } };
      expect(body.error).toEqual({ code: -32001, message: "Session not found" });
      expect(await receivedWithId(marker)).toEqual([]);
    }
    // The owner's session is untouched.
    const marker = unique("owner");
    const ok = await alice.post({ jsonrpc: "2.0", id: marker, method: "tools/list" });
    expect(ok.status).toBe(200);
    expect(await receivedWithId(marker)).toHaveLength(1);
  });

  it("refuses a forged or tampered session id like an unknown session", async () => {
    const alice = await McpSession.open(owner);
    const forged = alice.withToken(alice.token);
    forged.sessionId = crypto.randomUUID();
    const marker = unique("forged");
    const response = await forged.post({ jsonrpc: "2.0", id: marker, method: "tools/list" });
    expect(response.status).toBe(404);
    const tampered = alice.withToken(alice.token);
    tampered.sessionId = `${alice.sessionId!.slice(0, -4)}AAAA`;
    expect((await tampered.post({ jsonrpc: "2.0", id: unique("tampered"), method: "tools/list" })).status).toBe(404);
    expect(await receivedWithId(marker)).toEqual([]);
  });

  it("refuses another principal's GET stream and DELETE of the session; the owner keeps it", async () => {
    const alice = await McpSession.open(owner);
    const mallory = await McpSession.open(sameTenant);
    for (const method of ["GET", "DELETE"]) {
      const response = await workerFetcher().fetch("https://taskward.test/mcp", {
        method,
        headers: { accept: "text/event-stream", authorization: `Bearer ${mallory.token}`, "mcp-session-id": alice.sessionId!, "mcp-protocol-version": "2025-11-25" },
      });
      expect(response.status).toBe(404);
      await response.body?.cancel();
    }
    const after = await alice.request("tools/list");
    expect(after.status).toBe(200);
    expect(Array.isArray(after.reply?.result?.tools)).toBe(true);
  });

  it("audits a refused session in the caller's own ledger", async () => {
    const alice = await McpSession.open(owner);
    const hijacker: Identity = { tenant: "sess-audit", client_id: "cli-s", sub: "mallory" };
    const hijack = await McpSession.open(hijacker);
    hijack.sessionId = alice.sessionId;
    expect((await hijack.post({ jsonrpc: "2.0", id: unique("audit"), method: "tools/list" })).status).toBe(404);
    const audit = await (await adminFetch(`/tenants/${hijacker.tenant}/audit`)).text();
    const events = audit.trim().split("\n").map((line) => JSON.parse(line) as { type: string; reason: string; subject: string });
    expect(events.filter((e) => e.type === "denied" && e.reason === "session_mismatch" && e.subject === "mallory")).toHaveLength(1);
  });

  it("the session id a client sees is not the origin's, and cannot be read back to it", async () => {
    const alice = await McpSession.open(owner);
    const marker = unique("sid");
    await alice.post({ jsonrpc: "2.0", id: marker, method: "tools/list" });
    const [seen] = await receivedWithId(marker);
    expect(typeof seen?.sessionId).toBe("string");
    expect(alice.sessionId).not.toBe(seen!.sessionId);
    expect(readableParts(alice.sessionId!)).not.toContain(seen!.sessionId!);
  });

  it("a header revision that disagrees with the session's negotiated one is refused (-32020)", async () => {
    const alice = await McpSession.open(owner);
    const marker = unique("rev");
    const response = await alice.post({ jsonrpc: "2.0", id: marker, method: "tools/list" }, { "mcp-protocol-version": "2026-07-28" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(-32020);
    expect(await receivedWithId(marker)).toEqual([]);
  });
});

describe("finding 4: no origin id in anything a client can read", () => {
  const identity: Identity = { tenant: "sealed-co", client_id: "cli-x", sub: "reader" };

  it("a handle carries no origin task id, in any decoded part", async () => {
    const session = await McpSession.open(identity);
    const { handle } = await session.createTask("slow_echo", { text: "sealed", delayMs: 10 });
    const originId = await originTaskIdOf(identity.tenant, handle);
    expect(readableParts(handle)).not.toContain(originId);
    expect(decodeClaims(handle).task).toBeUndefined();
    // The handle still works: the ledger maps it to the origin's task.
    const got = await session.request("tasks/get", { taskId: handle });
    expect(got.reply?.result?.taskId).toBe(handle);
  });

  it("a tasks/list cursor carries no origin cursor, in any decoded part", async () => {
    const session = await McpSession.open({ ...identity, sub: "pager" });
    for (let i = 0; i < 12; i++) await session.createTask("slow_echo", { text: `p${i}`, delayMs: 10 });
    const first = await session.request("tasks/list", {});
    const sealed = first.reply?.result?.nextCursor as string;
    expect(typeof sealed).toBe("string");
    const marker = unique("page2");
    const second = await session.post({ jsonrpc: "2.0", id: marker, method: "tasks/list", params: { cursor: sealed } });
    expect(second.status).toBe(200);
    const [atOrigin] = await receivedWithId(marker);
    const originCursor = atOrigin?.params?.cursor;
    expect(typeof originCursor).toBe("string");
    expect(readableParts(sealed)).not.toContain(originCursor as string);
  });
});

/** The Worker as deployed with another TASK_POLICY: the same ledger objects, the policy of a new deploy. */
async function underPolicy(policy: unknown, session: McpSession, method: string, params: Record<string, unknown>, token = session.token) {
  const id = unique("pol");
  const request = new Request("https://taskward.test/mcp", {
    method: "POST",
    headers: { ...session.headers(), authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, TASK_POLICY: JSON.stringify(policy) }, ctx);
  const reply = await readReply(response, id);
  await waitOnExecutionContext(ctx);
  return reply;
}

describe("finding 5: the policy in force decides every use, not the policy at issuance", () => {
  const identity: Identity = { tenant: "policy-now", client_id: "cli-p", sub: "owner" };

  it("narrowing a tool's ops refuses the removed operation on live handles", async () => {
    const session = await McpSession.open(identity);
    const { handle } = await session.createTask("slow_echo", { text: "narrow", delayMs: 10 });
    await session.waitForStatus(handle, ["completed"]);
    const narrowed = await underPolicy({ tools: { slow_echo: { ops: ["get"] } } }, session, "tasks/result", { taskId: handle });
    expect(narrowed.reply?.error).toEqual({ code: -32602, message: "Task not found" });
    const stillGet = await underPolicy({ tools: { slow_echo: { ops: ["get"] } } }, session, "tasks/get", { taskId: handle });
    expect(stillGet.reply?.result?.taskId).toBe(handle);
  });

  it("forbidding the tool refuses every follow-up on its live handles", async () => {
    const session = await McpSession.open({ ...identity, sub: "forbidden" });
    const { handle } = await session.createTask("slow_echo", { text: "forbid", delayMs: 10 });
    const refused = await underPolicy({ tools: { slow_echo: { taskSupport: "forbidden" } } }, session, "tasks/get", { taskId: handle });
    expect(refused.reply?.error).toEqual({ code: -32602, message: "Task not found" });
  });

  it("lowering the TTL cap expires live handles older than the new cap", async () => {
    const session = await McpSession.open({ ...identity, sub: "ttl" });
    const { handle } = await session.createTask("slow_echo", { text: "ttl", delayMs: 10 });
    await new Promise((r) => setTimeout(r, 1100));
    const refused = await underPolicy({ tools: { slow_echo: { maxTtlSeconds: 1 } } }, session, "tasks/get", { taskId: handle });
    expect(refused.reply?.error).toEqual({ code: -32602, message: "Task not found" });
    const audit = await (await adminFetch(`/tenants/${identity.tenant}/audit`)).text();
    expect(audit).toContain(`"reason":"expired"`);
  });

  it("adding step-up applies to live handles", async () => {
    const ttlIdentity = { ...identity, sub: "stepup" };
    const session = await McpSession.open(ttlIdentity);
    const { handle } = await session.createTask("slow_echo", { text: "step", delayMs: 10 });
    await session.waitForStatus(handle, ["completed"]);
    const stale = await devTokenAuthenticatedAgo(ttlIdentity, 120);
    const policy = { tools: { slow_echo: { maxAuthAgeSeconds: 60, stepUpOps: ["result"] } } };
    const refused = await underPolicy(policy, session, "tasks/result", { taskId: handle }, stale);
    expect(refused.status).toBe(403);
    expect(refused.reply?.error?.code).toBe(-32003);
  });

  it("records the policy version each decision used", async () => {
    const session = await McpSession.open({ ...identity, sub: "version" });
    const { handle } = await session.createTask("slow_echo", { text: "v", delayMs: 10 });
    await session.request("tasks/get", { taskId: handle });
    await underPolicy({ tools: { slow_echo: { ops: ["get", "result"] } } }, session, "tasks/get", { taskId: handle });
    const audit = await (await adminFetch(`/tenants/${identity.tenant}/audit`)).text();
    const allowed = audit
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; jti: string; detail: string | null })
      .filter((e) => e.type === "allowed" && e.jti === decodeClaims(handle).jti);
    const versions = allowed.map((e) => (JSON.parse(e.detail ?? "{}") as { policy?: string }).policy);
    expect(versions).toHaveLength(2);
    expect(versions.every((v) => typeof v === "string" && v.length > 0)).toBe(true);
    expect(versions[0]).not.toBe(versions[1]);
  });
});

describe("finding 8: delegation depth is policy, and act nests", () => {
  const tenant = "deleg-depth";
  const owner: Identity = { tenant, client_id: "c", sub: "owner" };

  async function post(path: string, body: unknown, token: string) {
    const response = await workerFetcher().fetch(`https://taskward.test${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  it("a delegate cannot delegate its delegated handle onward", async () => {
    const session = await McpSession.open(owner);
    const { handle } = await session.createTask("slow_echo", { text: "d", delayMs: 10 });
    const helper = await McpSession.open({ tenant, client_id: "c", sub: "helper" });
    const first = await post("/delegations", { taskId: handle, to: { client_id: "c", sub: "helper" }, ops: ["get"] }, session.token);
    expect(first.status).toBe(201);
    const onward = await post("/delegations", { taskId: first.body.handle, to: { client_id: "c", sub: "third" }, ops: ["get"] }, helper.token);
    expect(onward.status).toBe(403);
    expect(onward.body.message).toContain("re-delegate");
  });

  it("an operator's delegation of a delegated handle nests act (RFC 8693) and the audit shows the chain", async () => {
    const session = await McpSession.open({ ...owner, sub: "owner2" });
    const { handle } = await session.createTask("slow_echo", { text: "chain", delayMs: 10 });
    const first = await post("/delegations", { taskId: handle, to: { client_id: "c", sub: "helper2" }, ops: ["get"] }, session.token);
    expect(first.status).toBe(201);
    const second = await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle: first.body.handle, to: { client_id: "ops", sub: "oncall" }, ops: ["get"] }) });
    expect(second.status).toBe(201);
    const child = decodeClaims(((await second.json()) as { handle: string }).handle);
    expect(child.act).toEqual({ sub: "break-glass", act: { sub: "owner2", client_id: "c" } });
    const audit = await (await adminFetch(`/tenants/${tenant}/audit`)).text();
    const delegated = audit
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; jti: string; detail: string })
      .find((e) => e.type === "delegated" && e.jti === child.jti);
    expect(JSON.parse(delegated!.detail).act).toEqual({ sub: "break-glass", act: { sub: "owner2", client_id: "c" } });
  });
});
