/**
 * The whole system as real processes: `wrangler dev --env dev` running taskward, the demo origin
 * (official SDK server, verifying every forwarded call's origin assertion against the authority's JWKS URL), and
 * official SDK clients holding dev tokens.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallToolResultSchema, RELATED_TASK_META_KEY } from "@modelcontextprotocol/sdk/types.js";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin, type ReceivedMessage } from "../../demo/origin.js";
import { claimsOf, connect, createTask, headerOf, messagesIn, textOf, waitForStatus, type Caller, type Identity, expectTaskNotFound } from "./support/mcp.js";
import { freePort, startAuthority, waitForPortFree, writeSecretsFile, type Authority } from "./support/processes.js";

const HANDLE_TYP = "mcp-task-handle+jwt";
const ALICE: Identity = { tenant: "acme", client_id: "cli-a", sub: "alice" };
const BOB: Identity = { tenant: "acme", client_id: "cli-a", sub: "bob" };
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

let tmp: string;
let base: string;
let port: number;
let kid: string;
let signingKey: CryptoKey;
let adminToken: string;
let secretsFile: string;
let persistTo: string;
let demo: DemoOrigin;
let authority: Authority | undefined;
let alice: Caller;
const callers: Caller[] = [];

async function caller(identity: Identity): Promise<Caller> {
  const connected = await connect(base, identity);
  callers.push(connected);
  return connected;
}

function startTaskward(): Promise<Authority> {
  return startAuthority({ port, originUrl: demo.url, persistTo, secretsFile, kid });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-e2e-"));
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  signingKey = pair.privateKey;
  kid = `e2e-${randomBytes(4).toString("hex")}`;
  const signingJwk: JWK = { ...(await exportJWK(pair.privateKey)), kid, alg: "EdDSA" };
  adminToken = randomBytes(24).toString("base64url");
  secretsFile = join(tmp, "secrets.env");
  writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: JSON.stringify({ keys: [signingJwk], active: kid }), ADMIN_TOKEN: adminToken });
  persistTo = join(tmp, "state");
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // The origin fetches the authority's JWKS lazily, so it may start first.
  demo = await startDemoOrigin({ port: 0, assertionVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`) } });
  authority = await startTaskward();
  alice = await caller(ALICE);
});

afterAll(async () => {
  await Promise.allSettled(callers.map(({ client }) => client.close()));
  await authority?.stop();
  await demo?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---- helpers ----

/** The origin's id of the task behind a handle, from the operator's view of the ledger (handles do not carry it). */
async function originTaskId(handle: string): Promise<string | undefined> {
  const { tenant, jti } = claimsOf(handle);
  const response = await fetch(`${base}/admin/tenants/${tenant}/tasks/${jti}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return response.status === 200 ? ((await response.json()) as { taskId: string }).taskId : undefined;
}

/** The jti of a (forwarded, origin-facing) handle, when it decodes. */
function jtiOf(handle: string): string | undefined {
  try {
    return claimsOf(handle).jti;
  } catch {
    return undefined;
  }
}

/** Messages the origin received since `mark` that name any of these handles (by jti) or their origin task ids. */
async function forwardedSince(mark: number, handles: string[]): Promise<ReceivedMessage[]> {
  const names = new Set(handles);
  const jtis = new Set<string>();
  for (const handle of handles) {
    if (!COMPACT_JWS.test(handle)) continue;
    const jti = jtiOf(handle);
    if (jti) jtis.add(jti);
    const originId = await originTaskId(handle);
    if (originId) names.add(originId);
  }
  return demo.received
    .slice(mark)
    .filter((m) => (m.handle !== undefined && (names.has(m.handle) || jtis.has(jtiOf(m.handle) ?? ""))) || (m.taskId !== undefined && names.has(m.taskId)));
}

/** Refuses get, result and cancel for `handle` and proves the origin received nothing meanwhile. */
async function expectAllOpsRefused(who: Caller, handle: string, alsoUnseen: string[] = []): Promise<void> {
  const mark = demo.received.length;
  const tasks = who.client.experimental.tasks;
  await expectTaskNotFound(tasks.getTask(handle));
  await expectTaskNotFound(tasks.getTaskResult(handle, CallToolResultSchema));
  await expectTaskNotFound(tasks.cancelTask(handle));
  expect(await forwardedSince(mark, [handle, ...alsoUnseen])).toEqual([]);
  expect(demo.received.slice(mark)).toEqual([]);
}

function sign(claims: JWTPayload, key: CryptoKey = signingKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid, typ: HANDLE_TYP }).sign(key);
}

function admin(path: string, body: unknown, token = adminToken): Promise<Response> {
  return fetch(`${base}/admin${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

// ---- tests ----

describe("the task lifecycle through taskward", () => {
  it("hands out a signed handle bound to the caller instead of the origin task id, then polls it and returns its result", async () => {
    const mark = demo.received.length;
    const handle = await createTask(alice.client, "slow_echo", { text: "hello e2e", delayMs: 300 });

    expect(handle).toMatch(COMPACT_JWS);
    expect(headerOf(handle)).toEqual({ alg: "EdDSA", kid, typ: HANDLE_TYP });
    const claims = claimsOf(handle);
    expect(claims).toMatchObject({
      iss: base,
      aud: demo.url,
      tenant: ALICE.tenant,
      client_id: ALICE.client_id,
      sub: ALICE.sub,
      tool: "slow_echo",
      ops: ["get", "result", "cancel"],
      mcp: "2025-11-25",
    });
    // The handle does not name the origin's task; the ledger maps it.
    expect(claims.task).toBeUndefined();
    const originId = (await originTaskId(handle))!;
    expect(originId).toMatch(/^[0-9a-f]{32}$/);
    expect(claims.exp! - claims.iat!).toBe(120);
    // The origin created exactly one task for this call, and named it by its own id.
    expect(demo.received.slice(mark).map((m) => m.method)).toEqual(["tools/call"]);

    const done = await waitForStatus(alice.client, handle, "completed");
    expect(done).toMatchObject({ taskId: handle, status: "completed", ttl: 120_000 });

    const result = await alice.client.experimental.tasks.getTaskResult(handle, CallToolResultSchema);
    expect(textOf(result)).toBe("hello e2e");
    expect(result._meta?.[RELATED_TASK_META_KEY]).toEqual({ taskId: handle });
    expect(JSON.stringify(result)).not.toContain(originId);

    // The origin saw every follow-up under its own id, each with a fresh assertion naming that task
    // and the handle's jti; the handle itself is not forwarded (compatibility mode is off).
    const followUps = demo.received.slice(mark).filter((m) => m.taskId !== undefined);
    expect(new Set(followUps.map((m) => m.method))).toEqual(new Set(["tasks/get", "tasks/result"]));
    for (const message of followUps) {
      expect(message).toMatchObject({ taskId: originId, assertion: { task: originId, handleJti: claims.jti, sub: ALICE.sub } });
      expect(message.handle).toBeUndefined();
    }
  });

  it("lists only the caller's own tasks, each as a handle", async () => {
    const bob = await caller(BOB);
    const mine = await createTask(alice.client, "slow_echo", { text: "mine", delayMs: 0 });
    const theirs = await createTask(bob.client, "slow_echo", { text: "theirs", delayMs: 0 });

    const { tasks } = await alice.client.experimental.tasks.listTasks();
    const ids = tasks.map((task) => task.taskId);
    expect(ids).toContain(mine);
    expect(ids).not.toContain(theirs);
    for (const id of ids) {
      expect(id).toMatch(COMPACT_JWS);
      expect(claimsOf(id)).toMatchObject({ tenant: ALICE.tenant, client_id: ALICE.client_id, sub: ALICE.sub });
    }
    expect(JSON.stringify(tasks)).not.toContain((await originTaskId(mine))!);
    expect(JSON.stringify(tasks)).not.toContain((await originTaskId(theirs))!);
  });

  it("refuses another caller borrowing the owner's session like an unknown session; the origin hears nothing", async () => {
    const bob = await caller(BOB);
    const mine = await createTask(alice.client, "slow_echo", { text: "session-bound", delayMs: 0 });
    const sessionId = alice.transport.sessionId;
    expect(sessionId).toEqual(expect.any(String));
    const mark = demo.received.length;

    const response = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${bob.token}`,
        "mcp-protocol-version": "2025-11-25",
        "mcp-session-id": sessionId!,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tasks/list", params: {} }),
    });
    const body = await response.text();
    expect(response.status).toBe(404);
    expect(JSON.parse(body)).toEqual({ jsonrpc: "2.0", id: 7, error: { code: -32001, message: "Session not found" } });
    expect(body).not.toContain(mine);
    expect(demo.received.slice(mark)).toEqual([]);
  });

  it("cancels a running long_job through its handle", async () => {
    const handle = await createTask(alice.client, "long_job", { seconds: 30 });
    expect(await alice.client.experimental.tasks.getTask(handle)).toMatchObject({ taskId: handle, status: "working" });

    const cancelled = await alice.client.experimental.tasks.cancelTask(handle);
    expect(cancelled).toMatchObject({ taskId: handle, status: "cancelled" });
    expect(await alice.client.experimental.tasks.getTask(handle)).toMatchObject({ taskId: handle, status: "cancelled" });
  });
});

describe("refusals: -32602 Task not found, and the origin never hears of it", () => {
  it.each([
    ["another tenant", { ...ALICE, tenant: "globex" }],
    ["another client", { ...ALICE, client_id: "cli-b" }],
    ["another subject", { ...ALICE, sub: "mallory" }],
  ])("refuses %s get, result and cancel on alice's task", async (_label, identity) => {
    const handle = await createTask(alice.client, "long_job", { seconds: 30 });
    const intruder = await caller(identity);

    await expectAllOpsRefused(intruder, handle);

    // The refused cancel changed nothing: the task still runs for its owner.
    expect(await alice.client.experimental.tasks.getTask(handle)).toMatchObject({ taskId: handle, status: "working" });
    await alice.client.experimental.tasks.cancelTask(handle);
  });

  it("refuses the origin's own task id", async () => {
    const handle = await createTask(alice.client, "slow_echo", { text: "raw", delayMs: 0 });
    await expectAllOpsRefused(alice, (await originTaskId(handle))!, [handle]);
  });

  it("refuses a tampered handle (another handle's payload under this one's signature)", async () => {
    const first = await createTask(alice.client, "slow_echo", { text: "first", delayMs: 0 });
    const second = await createTask(alice.client, "slow_echo", { text: "second", delayMs: 0 });
    const [header, , signature] = first.split(".");
    const forged = `${header}.${second.split(".")[1]}.${signature}`;

    await expectAllOpsRefused(alice, forged, [first, second]);
    // Both genuine handles still work.
    expect(await alice.client.experimental.tasks.getTask(first)).toMatchObject({ taskId: first });
    expect(await alice.client.experimental.tasks.getTask(second)).toMatchObject({ taskId: second });
  });

  it("refuses an expired handle signed with the authority's own key", async () => {
    const handle = await createTask(alice.client, "slow_echo", { text: "expiring", delayMs: 0 });
    const claims = claimsOf(handle);
    // Control: the same claims re-signed with this key are accepted, so only the expiry differs below.
    const resigned = await sign(claims);
    expect(await alice.client.experimental.tasks.getTask(resigned)).toMatchObject({ taskId: resigned });

    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ ...claims, iat: now - 7200, exp: now - 3600 });
    await expectAllOpsRefused(alice, expired, [handle]);
  });

  it("refuses a handle signed by another key under the authority's kid", async () => {
    const handle = await createTask(alice.client, "slow_echo", { text: "spoofed", delayMs: 0 });
    const { privateKey: otherKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const spoofed = await sign(claimsOf(handle), otherKey);
    expect(headerOf(spoofed)).toEqual(headerOf(handle));

    await expectAllOpsRefused(alice, spoofed, [handle]);
  });

  it("refuses a handle revoked through POST /admin/revocations, from the very next call", async () => {
    const handle = await createTask(alice.client, "long_job", { seconds: 30 });
    expect(await alice.client.experimental.tasks.getTask(handle)).toMatchObject({ taskId: handle, status: "working" });

    expect((await admin("/revocations", { handle }, "dev-admin-token")).status).toBe(401);
    const revoke = await admin("/revocations", { handle, reason: "e2e" });
    expect(revoke.status).toBe(200);
    expect(await revoke.json()).toEqual({ tenant: ALICE.tenant, jti: claimsOf(handle).jti, revoked: 1 });

    await expectAllOpsRefused(alice, handle);
  });
});

describe("restart", () => {
  it("keeps handles and revocations across a restart of the authority (same key, same state)", async () => {
    const kept = await createTask(alice.client, "slow_echo", { text: "survivor", delayMs: 0 });
    await waitForStatus(alice.client, kept, "completed");
    const revoked = await createTask(alice.client, "slow_echo", { text: "revoked", delayMs: 0 });
    expect((await admin("/revocations", { handle: revoked, reason: "before restart" })).status).toBe(200);

    await authority!.stop();
    authority = undefined;
    await waitForPortFree(port);
    await expect(fetch(`${base}/.well-known/jwks.json`)).rejects.toThrow();
    authority = await startTaskward();

    // The same client, token and origin session as before the restart.
    expect(await alice.client.experimental.tasks.getTask(kept)).toMatchObject({ taskId: kept, status: "completed" });
    expect(textOf(await alice.client.experimental.tasks.getTaskResult(kept, CallToolResultSchema))).toBe("survivor");
    await expectAllOpsRefused(alice, revoked);

    const record = await fetch(`${base}/admin/tenants/${ALICE.tenant}/tasks/${claimsOf(revoked).jti}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(record.status).toBe(200);
    expect(await record.json()).toMatchObject({ jti: claimsOf(revoked).jti, revokeReason: "before restart" });
  });
});
