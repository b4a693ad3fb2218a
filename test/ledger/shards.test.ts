/**
 * Issue 15 (items 2, 3, 5, 7): tenant ledgers split over 4 shards (LEDGER_SHARDS_BY_TENANT in
 * vitest.config.ts), against the real Worker, real Durable Objects and the real demo origin.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { loadKeyRing, mintHandle } from "../../src/handle/index.js";
import { ledgerFor, ledgerIdFor } from "../../src/ledger/ledger-client.js";
import { shardObjectName } from "../../src/ledger/shards.js";
import { McpSession, adminFetch, decodeClaims, forwardedFor, originReceived, readReply, shardOf, type Identity } from "../support/mcp-client.js";
import { callApp, messagesOf, type Outcome } from "../adversarial/fault-support.js";

const SHARDS = 4;
const NOT_FOUND = { code: -32602, message: "Task not found" };
const workerEnv = env as unknown as WorkerEnv;

/** The JSON-RPC answer to request `id` in an app call's body (as readReply picks it). */
const replyTo = (outcome: Outcome, id: string): Record<string, any> | undefined => messagesOf(outcome).find((m) => m.id === id && ("result" in m || "error" in m));

/** One poll: a tasks/get with an id no other request in the suite uses, so the origin's log names it. */
interface Poll {
  id: string;
  handle: string;
  /** Sent after the revocation call had returned. */
  afterRevoke: boolean;
  allowed: boolean;
}

async function pollOnce(session: McpSession, handle: string, afterRevoke: boolean): Promise<Poll> {
  const id = `shard-poll-${crypto.randomUUID()}`;
  const reply = await readReply(await session.post({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: handle } }), id);
  if (reply.reply?.error) expect(reply.reply.error).toEqual(NOT_FOUND);
  else expect(reply.reply?.result?.taskId).toBe(handle);
  return { id, handle, afterRevoke, allowed: reply.reply?.result !== undefined };
}

async function createTasks(identity: Identity, count: number): Promise<{ session: McpSession; handles: string[] }> {
  const session = await McpSession.open(identity);
  const handles: string[] = [];
  // Long enough to still be working while the test polls.
  for (let i = 0; i < count; i++) handles.push((await session.createTask("slow_echo", { text: `t${i}`, delayMs: 30_000 })).handle);
  return { session, handles };
}

async function revoke(body: Record<string, unknown>): Promise<Response> {
  return adminFetch("/revocations", { method: "POST", body: JSON.stringify(body) });
}

/** Sums the `count` of each shard's audit events that match, per shard. */
async function auditCounts(tenant: string, match: (event: { type: string; jti: string | null; reason: string | null; subject: string | null }) => boolean): Promise<number[]> {
  const counts: number[] = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const { events } = await ledgerFor(workerEnv.TASK_LEDGER, tenant, shard).auditEvents(tenant, 0, 10_000);
    counts.push(events.filter(match).reduce((sum, event) => sum + event.count, 0));
  }
  return counts;
}

describe("sharded ledgers: issuance", () => {
  it("spreads a tenant's handles over its 4 shards, names the shard in the handle, and records each in that shard only", async () => {
    const tenant = "shard-list";
    const { handles } = await createTasks({ tenant, client_id: "c", sub: "spread" }, 12);
    const byShard = new Map<number, string[]>();
    for (const handle of handles) byShard.set(shardOf(handle), [...(byShard.get(shardOf(handle)) ?? []), handle]);
    expect([...byShard.keys()].sort()).toEqual([0, 1, 2, 3]);
    // Shard 0's handles carry no claim at all: they read exactly as handles minted before sharding.
    for (const handle of byShard.get(0)!) expect("shd" in decodeClaims(handle)).toBe(false);
    for (const handle of handles) {
      const { jti } = decodeClaims(handle);
      const holders: number[] = [];
      for (let shard = 0; shard < SHARDS; shard++) if (await ledgerFor(workerEnv.TASK_LEDGER, tenant, shard).task(tenant, jti)) holders.push(shard);
      expect(holders).toEqual([shardOf(handle)]);
    }
  });

  it("shard 0 is the tenant's original object: a handle recorded there without a shard claim keeps working", async () => {
    const tenant = "shard-legacy";
    const { session, handles } = await createTasks({ tenant, client_id: "c", sub: "legacy" }, 8);
    const legacy = handles.find((handle) => !("shd" in decodeClaims(handle)));
    expect(legacy).toBeDefined();
    // Recorded in the object named exactly as before sharding (`tenant:<tenant>`).
    const original = workerEnv.TASK_LEDGER.get(workerEnv.TASK_LEDGER.idFromName(`tenant:${tenant}`));
    expect(await original.task(tenant, decodeClaims(legacy!).jti)).toMatchObject({ jti: decodeClaims(legacy!).jti });
    expect(ledgerIdFor(workerEnv.TASK_LEDGER, tenant).toString()).toBe(workerEnv.TASK_LEDGER.idFromName(`tenant:${tenant}`).toString());
    expect((await pollOnce(session, legacy!, false)).allowed).toBe(true);
  });

  it("after the shard count is lowered, a live handle in a shard beyond it answers like an unknown task and is never forwarded", async () => {
    const tenant = "shard-legacy";
    const { session, handles } = await createTasks({ tenant, client_id: "c", sub: "beyond" }, 8);
    const high = handles.find((h) => shardOf(h) === 3)!;
    expect(high).toBeDefined();
    // The same Worker app with this tenant lowered from 4 shards to 2: tenant-wide revocations would no longer reach shard 3.
    const lowered = { ...workerEnv, LEDGER_SHARDS_BY_TENANT: JSON.stringify({ [tenant]: 2 }) } as WorkerEnv;
    const poll = async (through: WorkerEnv | undefined) => {
      const id = `shard-beyond-${crypto.randomUUID()}`;
      const request = { method: "POST", headers: session.headers(), body: JSON.stringify({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: high } }) };
      if (!through) return { id, reply: (await readReply(await session.post(JSON.parse(request.body)), id)).reply };
      return { id, reply: replyTo(await callApp(through, new Request("https://taskward.test/mcp", request)), id) };
    };
    const refused = await poll(lowered);
    expect(refused.reply?.error).toEqual(NOT_FOUND);
    expect((await originReceived()).some((m) => m.id === refused.id)).toBe(false);
    // The test can tell: under the configured 4 shards the same handle is live.
    expect((await poll(undefined)).reply?.result?.taskId).toBe(high);
    // A signed claim beyond the hard maximum is refused when the handle is read.
    const keyRing = await loadKeyRing(inject("signingJwks"));
    const { iss, aud, iat: _iat, jti: _jti, ...grant } = decodeClaims(high);
    const { token } = await mintHandle({ ...grant, shd: -1 } as never, { keyRing, issuer: iss, audience: aud });
    const id = `shard-negative-${crypto.randomUUID()}`;
    expect((await readReply(await session.post({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: token } }), id)).reply?.error).toEqual(NOT_FOUND);
  });
});

describe("sharded ledgers: revocation while polling across shards", () => {
  const cases = [
    { scope: "tenant", tenant: "shard-revoke-tenant", victim: { client_id: "c", sub: "v" }, bystander: undefined, body: (tenant: string) => ({ tenant, scope: "tenant" }) },
    { scope: "client", tenant: "shard-revoke-client", victim: { client_id: "leaky", sub: "v" }, bystander: { client_id: "fine", sub: "v" }, body: (tenant: string) => ({ tenant, client_id: "leaky" }) },
    { scope: "subject", tenant: "shard-revoke-subject", victim: { client_id: "c", sub: "mallory" }, bystander: { client_id: "c", sub: "bob" }, body: (tenant: string) => ({ tenant, sub: "mallory" }) },
  ] as const;

  for (const { scope, tenant, victim, bystander, body } of cases) {
    it(`${scope} revocation: every shard is revoked before the answer; no poll sent after it reaches the origin; audit complete per shard`, async () => {
      const victims = await createTasks({ tenant, ...victim }, 8);
      const others = bystander ? await createTasks({ tenant, ...bystander }, 4) : undefined;
      expect(new Set(victims.handles.map(shardOf)).size).toBeGreaterThanOrEqual(3);

      let revoked = false;
      const polls: Poll[] = [];
      // One poller per handle, polling until refused (or, as a bound, 200 polls).
      const pollers = victims.handles.map(async (handle) => {
        for (let i = 0; i < 200; i++) {
          const poll = await pollOnce(victims.session, handle, revoked);
          polls.push(poll);
          if (!poll.allowed) return;
        }
      });
      // Let every poller be allowed at least once before revoking.
      while (new Set(polls.filter((p) => p.allowed).map((p) => p.handle)).size < victims.handles.length) await new Promise((r) => setTimeout(r, 10));
      const response = await revoke(body(tenant));
      revoked = true;
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ tenant, issuedBefore: expect.any(Number) });
      await Promise.all(pollers);
      // A poller whose last poll was sent just before the answer (and refused) stops there: one more poll each, now after it.
      for (const handle of victims.handles) polls.push(await pollOnce(victims.session, handle, true));

      const after = polls.filter((p) => p.afterRevoke);
      expect(after.length).toBeGreaterThanOrEqual(victims.handles.length);
      expect(after.filter((p) => p.allowed)).toEqual([]);
      const forwarded = new Set((await originReceived()).map((m) => m.id));
      expect(after.filter((p) => forwarded.has(p.id))).toEqual([]);
      // The test can tell: polls before the revocation did reach the origin.
      expect(polls.filter((p) => !p.afterRevoke && p.allowed && forwarded.has(p.id)).length).toBeGreaterThanOrEqual(victims.handles.length);
      if (others) for (const handle of others.handles) expect((await pollOnce(others.session, handle, true)).allowed).toBe(true);

      // Audit completeness per shard: every allowed poll is one counted "allowed" event in its handle's shard, every refusal one "denied".
      const jtiShard = new Map(victims.handles.map((h) => [decodeClaims(h).jti as string, shardOf(h)]));
      const expectedAllowed = [0, 1, 2, 3].map((shard) => polls.filter((p) => p.allowed && shardOf(p.handle) === shard).length);
      const expectedDenied = [0, 1, 2, 3].map((shard) => polls.filter((p) => !p.allowed && shardOf(p.handle) === shard).length);
      const allowed = await auditCounts(tenant, (e) => e.type === "allowed" && e.jti !== null && jtiShard.has(e.jti));
      // Refusals of one caller fold into one counted span per reason (its jti is the last one's), so they are matched by caller.
      const denied = await auditCounts(tenant, (e) => e.type === "denied" && e.subject === victim.sub && e.reason === "revoked_by_watermark");
      expect(allowed).toEqual(expectedAllowed);
      expect(denied).toEqual(expectedDenied);
      // Each shard recorded the revocation itself and keeps a chain that verifies.
      const revocations = await auditCounts(tenant, (e) => e.type === "revoked" && e.jti === null);
      expect(revocations).toEqual([1, 1, 1, 1]);
      const verified = await adminFetch(`/tenants/${tenant}/audit/verify`);
      expect(verified.status).toBe(200);
      const report = (await verified.json()) as { valid: boolean; shards: Array<{ shard: number; valid: boolean; events: number }> };
      expect(report.valid).toBe(true);
      expect(report.shards.map((s) => [s.shard, s.valid])).toEqual([[0, true], [1, true], [2, true], [3, true]]);
      for (const s of report.shards) expect(s.events).toBeGreaterThan(0);
    });
  }
});

describe("sharded ledgers: tasks/list", () => {
  it("lists the caller's handles from every shard, page by page, none twice and none missing", async () => {
    const tenant = "shard-list";
    const identity = { tenant, client_id: "c", sub: "lister" };
    const { session, handles } = await createTasks(identity, 14);
    const stranger = await createTasks({ tenant, client_id: "c", sub: "someone-else" }, 3);
    expect(new Set(handles.map(shardOf)).size).toBe(SHARDS);
    const listed: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await session.request("tasks/list", cursor === undefined ? {} : { cursor });
      const result = page.reply?.result;
      expect(result, JSON.stringify(page.messages)).toBeDefined();
      listed.push(...result.tasks.map((t: { taskId: string }) => t.taskId));
      cursor = result.nextCursor;
      pages++;
    } while (cursor !== undefined && pages < 20);
    expect(pages).toBeGreaterThan(1);
    expect(listed.length).toBe(new Set(listed).size);
    expect(new Set(listed)).toEqual(new Set(handles));
    for (const handle of stranger.handles) expect(listed).not.toContain(handle);
  });
});

describe("sharded ledgers: a shard that cannot be reached", () => {
  /**
   * The one fault the real runtime cannot be made to produce on demand: the TASK_LEDGER namespace
   * is wrapped so every call on shard `down` of `tenant` rejects as an unreachable object would.
   * Everything else is the real Worker app and the real objects.
   */
  function envWithShardDown(tenant: string, down: number): WorkerEnv {
    const namespace = workerEnv.TASK_LEDGER;
    const failing = namespace.idFromName(shardObjectName(tenant, down)).toString();
    const unreachable = new Proxy({}, { get: (_target, property) => (property === "then" ? undefined : () => Promise.reject(new Error("Network connection lost."))) });
    const wrapped = new Proxy(namespace, {
      get(target, property) {
        if (property === "get") return (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => (id.toString() === failing ? unreachable : target.get(id, options));
        const value = (target as unknown as Record<string | symbol, unknown>)[property];
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { ...workerEnv, TASK_LEDGER: wrapped as DurableObjectNamespace<never> } as WorkerEnv;
  }

  async function adminThrough(faulty: WorkerEnv, path: string, init: RequestInit = {}): Promise<Outcome> {
    return callApp(faulty, new Request(`https://taskward.test/admin${path}`, { ...init, headers: { "content-type": "application/json", authorization: "Bearer test-admin-token" } }));
  }

  it("a tenant revocation answers 503 naming the failed shard, reports nothing revoked, and a retry completes it", async () => {
    const tenant = "shard-fault";
    const { session, handles } = await createTasks({ tenant, client_id: "c", sub: "f" }, 8);
    const down = 2;
    const inDown = handles.filter((h) => shardOf(h) === down);
    expect(inDown.length).toBeGreaterThan(0);
    const faulty = envWithShardDown(tenant, down);

    const failed = await adminThrough(faulty, "/revocations", { method: "POST", body: JSON.stringify({ tenant, scope: "tenant" }) });
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).toBe("1");
    const body = JSON.parse(failed.text) as Record<string, unknown>;
    expect(body).toEqual({
      error: "ledger_unavailable",
      message: `1 of 4 ledger shards of tenant ${tenant} could not be reached (shards 2); the operation is not reported done: retry`,
      shards: 4,
      shardsFailed: 1,
      failedShards: [2],
      retryable: true,
    });
    expect(body).not.toHaveProperty("issuedBefore");
    // The unreachable shard's handles were not revoked, and nothing said they were: they still work.
    for (const handle of inDown) expect((await pollOnce(session, handle, false)).allowed).toBe(true);

    // Other tenant-wide operations fail the same way rather than answer with a part of the tenant.
    for (const path of [`/tenants/${tenant}/tasks`, `/tenants/${tenant}/audit/verify`, `/tenants/${tenant}/tasks/${decodeClaims(inDown[0]!).jti}`]) {
      const response = await adminThrough(faulty, path);
      expect(response.status, path).toBe(503);
      expect(JSON.parse(response.text), path).toMatchObject({ error: "ledger_unavailable", shardsFailed: 1 });
    }
    // A client/subject revocation too, and a tasks/list of the tenant's caller.
    expect((await adminThrough(faulty, "/revocations", { method: "POST", body: JSON.stringify({ tenant, sub: "f" }) })).status).toBe(503);

    // tasks/list of the tenant's caller fails closed: no partial list from the shards that answered.
    const listId = `shard-list-down-${crypto.randomUUID()}`;
    const { text } = await callApp(faulty, new Request("https://taskward.test/mcp", { method: "POST", headers: session.headers(), body: JSON.stringify({ jsonrpc: "2.0", id: listId, method: "tasks/list", params: {} }) }));
    expect(text).toContain(`"error":{"code":-32603,"message":"1 of 4 ledger shards of tenant ${tenant} could not be reached (shards 2); the operation is not reported done: retry"}`);
    for (const handle of handles) expect(text).not.toContain(handle);

    const retried = await revoke({ tenant, scope: "tenant" });
    expect(retried.status).toBe(200);
    for (const handle of handles) expect((await pollOnce(session, handle, true)).allowed).toBe(false);
  });
});

describe("sharded ledgers: operator views cover every shard", () => {
  it("lists tasks of all shards, finds a handle in its shard, revokes a handle in its shard, exports each shard's chain", async () => {
    const tenant = "shard-admin";
    const { session, handles } = await createTasks({ tenant, client_id: "c", sub: "op" }, 8);
    const listed = (await (await adminFetch(`/tenants/${tenant}/tasks?limit=100`)).json()) as { tasks: Array<{ jti: string; shard: number }> };
    expect(new Set(listed.tasks.map((t) => t.jti))).toEqual(new Set(handles.map((h) => decodeClaims(h).jti)));
    const target = handles.find((h) => shardOf(h) === 3)!;
    expect(target).toBeDefined();
    const found = await adminFetch(`/tenants/${tenant}/tasks/${decodeClaims(target).jti}`);
    expect(await found.json()).toMatchObject({ jti: decodeClaims(target).jti, shard: 3 });

    const revoked = await revoke({ handle: target });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ revoked: 1 });
    expect((await pollOnce(session, target, true)).allowed).toBe(false);
    const byJti = await revoke({ tenant, jti: decodeClaims(handles.find((h) => shardOf(h) === 1)!).jti });
    expect(await byJti.json()).toMatchObject({ revoked: 1 });

    const export3 = await adminFetch(`/tenants/${tenant}/audit?shard=3`);
    expect(export3.headers.get("audit-shards")).toBe("4");
    expect(export3.headers.get("audit-shard")).toBe("3");
    const events = (await export3.text()).trim().split("\n").map((line) => JSON.parse(line) as { type: string; jti: string | null });
    expect(events.filter((e) => e.type === "issued").map((e) => e.jti).sort()).toEqual(handles.filter((h) => shardOf(h) === 3).map((h) => decodeClaims(h).jti).sort());
    expect((await adminFetch(`/tenants/${tenant}/audit?shard=4`)).status).toBe(400);
    const checkpoint = await adminFetch(`/tenants/${tenant}/audit/checkpoint?shard=2`);
    expect(await checkpoint.json()).toMatchObject({ tenant, shard: 2, shards: 4, checkpoint: expect.any(String) });
  });
});

describe("sharded ledgers: forwarded copies", () => {
  it("the origin-facing copy names the same shard as the client's handle", async () => {
    const tenant = "shard-admin";
    const { session, handles } = await createTasks({ tenant, client_id: "c", sub: "copy" }, 4);
    const handle = handles.find((h) => shardOf(h) > 0)!;
    await pollOnce(session, handle, false);
    const entry = (await originReceived()).find((m) => forwardedFor(m, handle));
    expect(decodeClaims(entry!.handle!).shd).toBe(shardOf(handle));
  });
});

describe("sharded ledgers: placement by the creating request's region", () => {
  /** TASK_LEDGER that records, for each stub of `tenant`'s shards 0-3 obtained, its shard and location hint. */
  function recordingStubRequests(tenant: string) {
    const requested: Array<{ name: string; locationHint: unknown }> = [];
    const namespace = workerEnv.TASK_LEDGER;
    const names = new Map([0, 1, 2, 3].map((shard) => [namespace.idFromName(shardObjectName(tenant, shard)).toString(), shard]));
    const recording = new Proxy(namespace, {
      get(target, property) {
        if (property === "get") {
          return (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
            if (names.has(id.toString())) requested.push({ name: `shard ${names.get(id.toString())}`, locationHint: options?.locationHint });
            return target.get(id, options);
          };
        }
        const value = (target as unknown as Record<string | symbol, unknown>)[property];
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { requested, recording };
  }

  it("a pinned shard 0 is obtained with its pin by every call that reaches it, the creation slot's included", async () => {
    const tenant = "shard-admin";
    const session = await McpSession.open({ tenant, client_id: "c", sub: "pinned-zero" });
    const { requested, recording } = recordingStubRequests(tenant);
    const placed = { ...workerEnv, TASK_LEDGER: recording, LEDGER_SHARD_LOCATIONS: JSON.stringify({ 0: "weur" }) } as unknown as WorkerEnv;
    const id = `shard-zero-${crypto.randomUUID()}`;
    const body = JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow_echo", arguments: { text: "zero", delayMs: 30_000 }, task: { ttl: 60_000 } } });
    const reply = replyTo(await callApp(placed, new Request("https://taskward.test/mcp", { method: "POST", headers: session.headers(), body, cf: { continent: "AS", country: "JP", longitude: "139.7" } } as RequestInit)), id);
    expect(typeof reply?.result?.task?.taskId).toBe("string");
    const zero = requested.filter((r) => r.name === "shard 0");
    expect(zero.length).toBeGreaterThan(0);
    expect(zero.map((r) => r.locationHint)).toEqual(zero.map(() => "weur"));
  });

  it("records a European caller's task in a shard pinned to weur and obtains its stub with that hint; an unpinned shard gets the caller's own", async () => {
    const tenant = "shard-admin";
    const session = await McpSession.open({ tenant, client_id: "c", sub: "traveller" });
    const { requested, recording } = recordingStubRequests(tenant);
    const placed = { ...workerEnv, TASK_LEDGER: recording, LEDGER_SHARD_LOCATIONS: JSON.stringify({ 1: "weur", 3: "weur" }) } as unknown as WorkerEnv;
    const create = async (cf: Record<string, string>) => {
      requested.length = 0;
      const id = `shard-placed-${crypto.randomUUID()}`;
      const body = JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow_echo", arguments: { text: "here", delayMs: 30_000 }, task: { ttl: 60_000 } } });
      const reply = replyTo(await callApp(placed, new Request("https://taskward.test/mcp", { method: "POST", headers: session.headers(), body, cf } as RequestInit)), id);
      const handle = reply?.result?.task?.taskId as string;
      expect(typeof handle).toBe("string");
      return { shard: shardOf(handle), requested: [...requested] };
    };
    for (let i = 0; i < 4; i++) {
      const paris = await create({ continent: "EU", country: "FR", longitude: "2.35" });
      expect([1, 3]).toContain(paris.shard);
      expect(paris.requested).toContainEqual({ name: `shard ${paris.shard}`, locationHint: "weur" });
    }
    // No shard is pinned to apac: any shard; an unpinned one is obtained with the caller's hint, a pinned one with its pin.
    const shards = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const tokyo = await create({ continent: "AS", country: "JP", longitude: "139.7" });
      shards.add(tokyo.shard);
      expect(tokyo.requested).toContainEqual({ name: `shard ${tokyo.shard}`, locationHint: tokyo.shard === 1 || tokyo.shard === 3 ? "weur" : "apac" });
    }
    expect(shards).toEqual(new Set([0, 1, 2, 3]));
  });
});
