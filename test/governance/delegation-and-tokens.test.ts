import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor, ledgerIdFor } from "../../src/ledger/ledger-client.js";
import { McpSession, adminFetch, decodeClaims, forwardedFor, originReceived, worker, type Identity } from "../support/mcp-client.js";

/** The Durable Object stub itself, for alarms and storage inspection. */
function rawLedger(tenant: string) {
  const namespace = (env as unknown as WorkerEnv).TASK_LEDGER;
  return namespace.get(ledgerIdFor(namespace, tenant));
}

const NOT_FOUND = { code: -32602, message: "Task not found" };

async function post(path: string, body: unknown, authorization?: string, contentType = "application/json") {
  const response = await worker().fetch(`https://taskward.test${path}`, {
    method: "POST",
    headers: { "content-type": contentType, ...(authorization ? { authorization } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

async function ownerTask(identity: Identity, tool = "slow_echo") {
  const session = await McpSession.open(identity);
  const { handle } = await session.createTask(tool, tool === "long_job" ? { seconds: 30 } : { text: "d", delayMs: 10 });
  return { session, handle };
}

describe("delegation", () => {
  it("an operator delegates a read-only handle: it polls, cannot cancel, and dies with its parent", async () => {
    const tenant = "deleg";
    const owner = await ownerTask({ tenant, client_id: "c", sub: "owner" });
    const delegated = await adminFetch("/delegations", {
      method: "POST",
      body: JSON.stringify({ handle: owner.handle, to: { client_id: "ops-console", sub: "oncall" }, ops: ["get"], ttl_seconds: 30 }),
    });
    expect(delegated.status).toBe(201);
    const { handle: child } = (await delegated.json()) as { handle: string };
    const claims = decodeClaims(child);
    expect(claims).toMatchObject({ sub: "oncall", client_id: "ops-console", ops: ["get"], act: { sub: "break-glass" }, parent: decodeClaims(owner.handle).jti });
    expect(claims.task).toBeUndefined();
    expect(claims.exp).toBeLessThanOrEqual(decodeClaims(owner.handle).exp);

    const oncall = await McpSession.openWithToken((await post("/dev/token", { tenant, client_id: "ops-console", sub: "oncall" })).body.access_token);
    expect((await oncall.request("tasks/get", { taskId: child })).reply?.result.taskId).toBe(child);
    const forwardedBefore = (await originReceived()).filter((m) => forwardedFor(m, child) || forwardedFor(m, owner.handle)).map((m) => m.method);
    expect((await oncall.request("tasks/cancel", { taskId: child })).reply?.error).toEqual(NOT_FOUND);
    // The parent's holder cannot use the child, nor the delegate the parent.
    expect((await owner.session.request("tasks/get", { taskId: child })).reply?.error).toEqual(NOT_FOUND);
    expect((await oncall.request("tasks/get", { taskId: owner.handle })).reply?.error).toEqual(NOT_FOUND);
    // The three refusals added nothing to what the origin saw of these two handles (the log is shared).
    expect((await originReceived()).filter((m) => forwardedFor(m, child) || forwardedFor(m, owner.handle)).map((m) => m.method)).toEqual(forwardedBefore);

    await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: owner.handle }) });
    expect((await oncall.request("tasks/get", { taskId: child })).reply?.error).toEqual(NOT_FOUND);
  });

  it("refuses to widen: more operations than the parent, or a revoked parent", async () => {
    const tenant = "deleg2";
    const owner = await ownerTask({ tenant, client_id: "c", sub: "owner" }, "always_fails");
    const wider = await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle: owner.handle, to: { client_id: "c", sub: "x" }, ops: ["get", "cancel"] }) });
    expect(wider.status).toBe(409);
    expect(((await wider.json()) as { message: string }).message).toContain("subset");
    await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: owner.handle }) });
    const fromRevoked = await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle: owner.handle, to: { client_id: "c", sub: "x" } }) });
    expect(fromRevoked.status).toBe(409);
  });

  it("an owner may delegate only where policy allows, and only handles it owns", async () => {
    const tenant = "deleg3";
    const identity = { tenant, client_id: "c", sub: "owner" };
    const allowed = await ownerTask(identity, "slow_echo");
    const notAllowed = await ownerTask(identity, "long_job");
    const token = `Bearer ${allowed.session.token}`;
    const ok = await post("/delegations", { taskId: allowed.handle, to: { client_id: "c", sub: "helper" }, ops: ["get"] }, token);
    expect(ok.status).toBe(201);
    expect(decodeClaims(ok.body.handle).act).toEqual({ sub: "owner", client_id: "c" });
    const forbidden = await post("/delegations", { taskId: notAllowed.handle, to: { client_id: "c", sub: "helper" } }, token);
    expect(forbidden.status).toBe(403);
    const stranger = await McpSession.open({ tenant, client_id: "c", sub: "stranger" });
    const notOwner = await post("/delegations", { taskId: allowed.handle, to: { client_id: "c", sub: "stranger" } }, `Bearer ${stranger.token}`);
    expect(notOwner.status).toBe(404);
    await notAllowed.session.request("tasks/cancel", { taskId: notAllowed.handle });
  });
});

describe("RFC 7009 /revoke and RFC 7662 /introspect", () => {
  it("a client revokes its own handle; 200 for unknown and foreign handles, which stay untouched", async () => {
    const identity = { tenant: "rfc", client_id: "c", sub: "me" };
    const mine = await ownerTask(identity);
    const theirs = await ownerTask({ ...identity, sub: "them" });
    const auth = `Bearer ${mine.session.token}`;
    expect((await post("/revoke", `token=${encodeURIComponent(theirs.handle)}`, auth, "application/x-www-form-urlencoded")).status).toBe(200);
    expect((await post("/revoke", "token=garbage", auth, "application/x-www-form-urlencoded")).status).toBe(200);
    expect((await theirs.session.request("tasks/get", { taskId: theirs.handle })).reply?.result.taskId).toBe(theirs.handle);
    expect((await post("/revoke", `token=${encodeURIComponent(mine.handle)}&token_type_hint=mcp-task-handle`, auth, "application/x-www-form-urlencoded")).status).toBe(200);
    expect((await mine.session.request("tasks/get", { taskId: mine.handle })).reply?.error).toEqual(NOT_FOUND);
    expect((await post("/revoke", "token=x", undefined, "application/x-www-form-urlencoded")).status).toBe(401);
    expect((await post("/revoke", "", auth, "application/x-www-form-urlencoded")).status).toBe(400);
  });

  it("introspection says active with the claims, then inactive after revocation; it needs its credential", async () => {
    const { handle } = await ownerTask({ tenant: "rfc2", client_id: "c", sub: "me" });
    const auth = "Bearer test-introspection-token";
    const live = await post("/introspect", `token=${encodeURIComponent(handle)}`, auth, "application/x-www-form-urlencoded");
    expect(live.body).toMatchObject({ active: true, token_type: "mcp-task-handle", tenant: "rfc2", client_id: "c", sub: "me", jti: decodeClaims(handle).jti });
    await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle }) });
    expect((await post("/introspect", `token=${encodeURIComponent(handle)}`, auth, "application/x-www-form-urlencoded")).body).toEqual({ active: false });
    expect((await post("/introspect", "token=nonsense", auth, "application/x-www-form-urlencoded")).body).toEqual({ active: false });
    expect((await post("/introspect", `token=${encodeURIComponent(handle)}`, "Bearer wrong", "application/x-www-form-urlencoded")).status).toBe(401);
  });
});

describe("API keys for machine principals", () => {
  it("are created once, authenticate as their principal, are stored hashed, and stop working when revoked", async () => {
    const tenant = "keys";
    const created = await adminFetch(`/tenants/${tenant}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "batch", sub: "svc-1", label: "nightly" }) });
    expect(created.status).toBe(201);
    const { key, id } = (await created.json()) as { key: string; id: string };
    expect(key).toMatch(/^twk_/);
    const session = await McpSession.openWithToken(key);
    const { handle } = await session.createTask("slow_echo", { text: "k", delayMs: 10 });
    expect(decodeClaims(handle)).toMatchObject({ tenant, client_id: "batch", sub: "svc-1" });

    const stored = await runInDurableObject(rawLedger(tenant), (_instance, state) =>
      JSON.stringify(state.storage.sql.exec("SELECT * FROM api_keys").toArray()),
    );
    const secret = key.split(".")[2]!;
    expect(stored).toContain(id);
    expect(stored).not.toContain(secret);

    const forged = key.slice(0, -4) + (key.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect((await session.withToken(forged).request("tools/list", {})).status).toBe(401);

    expect((await adminFetch(`/tenants/${tenant}/api-keys/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await session.request("tools/list", {})).status).toBe(401);
    expect((await adminFetch(`/tenants/${tenant}/api-keys/${id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("explains a bad API key request", async () => {
    const bad = await adminFetch(`/tenants/keys/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "x" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain("sub");
  });
});

describe("rate limits", () => {
  it("refused follow-ups beyond the limit answer 429 with Retry-After, even for valid handles", async () => {
    const identity = { tenant: "rl", client_id: "c", sub: "prober" };
    const session = await McpSession.open(identity);
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    let last;
    for (let i = 0; i < 31; i++) last = await session.request("tasks/get", { taskId: `guess-${i}` });
    expect(last?.status).toBe(429);
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(last?.reply?.error.code).toBe(-32029);
    expect((await session.request("tasks/get", { taskId: handle })).status).toBe(429);
    // Another principal of the same tenant is unaffected.
    const other = await McpSession.open({ ...identity, sub: "honest" });
    const { handle: theirs } = await other.createTask("slow_echo", { text: "y", delayMs: 10 });
    expect((await other.request("tasks/get", { taskId: theirs })).reply?.result.taskId).toBe(theirs);
  });

  it("task creation beyond the limit answers 429 before the origin sees the call", async () => {
    const session = await McpSession.open({ tenant: "rl2", client_id: "c", sub: "spammer" });
    for (let i = 0; i < 40; i++) await session.createTask("slow_echo", { text: `${i}`, delayMs: 1 });
    const marker = `one too many ${crypto.randomUUID()}`;
    const refused = await session.request("tools/call", { name: "slow_echo", arguments: { text: marker }, task: { ttl: 1000 } });
    expect(refused.status).toBe(429);
    expect(refused.reply?.error?.code).toBe(-32029);
    expect((await originReceived()).filter((m) => JSON.stringify(m).includes(marker))).toEqual([]);
  });
});
