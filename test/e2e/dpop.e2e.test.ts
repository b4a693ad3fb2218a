/**
 * DPoP and origin assertions as real processes: `wrangler dev` running taskward (assertion
 * lifetime 2 s), the demo origin verifying every call's assertion with `taskward/origin`, and the
 * official SDK client whose transport signs a DPoP proof (jose) for every request it sends.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JSONWebKeySet, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { ORIGIN_ASSERTION_HEADER, TASK_HANDLE_HEADER, verifyOriginAssertion } from "../../src/origin/index.js";
import { claimsOf, createTask, messagesIn, textOf, waitForStatus, type Identity, expectTaskNotFound } from "./support/mcp.js";
import { freePort, startAuthority, writeSecretsFile, type Authority } from "./support/processes.js";

const ALICE: Identity = { tenant: "acme", client_id: "cli-dpop", sub: "alice" };
const ASSERTION_TTL_SECONDS = 2;

interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

let tmp: string;
let base: string;
let adminToken: string;
let demo: DemoOrigin;
let authority: Authority | undefined;
let key: DpopKey;
let token: string;
let client: Client;
let transport: StreamableHTTPClientTransport;
/** Every proof the SDK's fetch wrapper sent, newest last. */
const sentProofs: string[] = [];

async function newKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

async function ath(accessToken: string): Promise<string> {
  return Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken))).toString("base64url");
}

/** An RFC 9449 proof: htm, htu (no query or fragment), iat, a fresh jti, ath when a token goes with it. */
async function proof(by: DpopKey, htm: string, htu: string, accessToken?: string, iat = Math.floor(Date.now() / 1000)): Promise<string> {
  return new SignJWT({ htm, htu, ...(accessToken ? { ath: await ath(accessToken) } : {}) })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: by.jwk })
    .setJti(randomBytes(16).toString("base64url"))
    .setIssuedAt(iat)
    .sign(by.privateKey);
}

/** The SDK transport's custom fetch: `Authorization: DPoP` and a fresh proof for each request. */
function dpopFetch(by: DpopKey, accessToken: string): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const headers = new Headers(init?.headers);
    const signed = await proof(by, method, `${url.origin}${url.pathname}`, accessToken);
    sentProofs.push(signed);
    headers.set("authorization", `DPoP ${accessToken}`);
    headers.set("dpop", signed);
    return fetch(input, { ...init, headers });
  };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-dpop-e2e-"));
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const kid = `dpop-e2e-${randomBytes(4).toString("hex")}`;
  adminToken = randomBytes(24).toString("base64url");
  const secretsFile = join(tmp, "secrets.env");
  writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: JSON.stringify({ keys: [{ ...(await exportJWK(pair.privateKey)), kid, alg: "EdDSA" }], active: kid }), ADMIN_TOKEN: adminToken });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  demo = await startDemoOrigin({ port: 0, assertionVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`), maxAgeSeconds: ASSERTION_TTL_SECONDS, clockToleranceSeconds: 0 } });
  authority = await startAuthority({ port, originUrl: demo.url, persistTo: join(tmp, "state"), secretsFile, kid, vars: { ORIGIN_ASSERTION_TTL_SECONDS: String(ASSERTION_TTL_SECONDS) } });
  key = await newKey();
  // The dev issuer binds the token to the key of the proof sent with the token request (RFC 9449 §5).
  const issued = await fetch(`${base}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json", dpop: await proof(key, "POST", `${base}/dev/token`) },
    body: JSON.stringify({ ...ALICE, dpop: true }),
  });
  expect(issued.status).toBe(200);
  const grant = (await issued.json()) as { access_token: string; token_type: string };
  expect(grant.token_type).toBe("DPoP");
  token = grant.access_token;
  transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { fetch: dpopFetch(key, token) });
  client = new Client({ name: "e2e-dpop", version: "1.0.0" });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await authority?.stop();
  await demo?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A raw tasks/get for `handle` in the SDK client's session, with the given Authorization and DPoP headers. */
async function rawGet(handle: string, headers: Record<string, string>, marker = `m-${randomBytes(6).toString("hex")}`) {
  const response = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", "mcp-session-id": transport.sessionId!, ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id: marker, method: "tasks/get", params: { taskId: handle } }),
  });
  return { status: response.status, challenge: response.headers.get("www-authenticate"), messages: messagesIn(await response.text()), marker };
}

/** The origin's id of the task behind a handle, from the operator's view of the ledger (handles do not carry it). */
async function originTaskId(handle: string): Promise<string> {
  const { tenant, jti } = claimsOf(handle);
  const response = await fetch(`${base}/admin/tenants/${tenant}/tasks/${jti}`, { headers: { authorization: `Bearer ${adminToken}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { taskId: string }).taskId;
}

describe("the SDK client with a DPoP fetch wrapper through wrangler dev", () => {
  let handle: string;

  it("creates a key-bound task, polls it and fetches its result", async () => {
    handle = await createTask(client, "slow_echo", { text: "proof of possession", delayMs: 300 });
    expect(claimsOf(handle).cnf).toEqual({ jkt: key.jkt });
    await waitForStatus(client, handle, "completed");
    const result = await client.experimental.tasks.getTaskResult(handle, CallToolResultSchema);
    expect(textOf(result)).toBe("proof of possession");
    // Every call reached the origin with a verified assertion naming the caller.
    // The client holds a sealed session id; the origin's entries are those of the origin session behind it.
    const originSessions = new Set(demo.received.filter((m) => (m.assertion as { sub?: string } | undefined)?.sub === ALICE.sub && m.sessionId !== undefined).map((m) => m.sessionId));
    const calls = demo.received.filter((m) => m.sessionId !== undefined && originSessions.has(m.sessionId) && m.method !== undefined);
    expect(calls.length).toBeGreaterThan(3);
    expect(calls.every((m) => m.assertion !== undefined && !("refused" in m.assertion) && m.assertion.sub === ALICE.sub)).toBe(true);
  });

  it("refuses the same handle and token without a proof, with another key, a replayed proof, another URL or method, or outside the iat window — and the origin receives nothing", async () => {
    const url = `${base}/mcp`;
    const other = await newKey();
    const now = Math.floor(Date.now() / 1000);
    const attempts: Array<[string, Record<string, string>]> = [
      ["no proof", { authorization: `DPoP ${token}` }],
      ["no proof, Bearer", { authorization: `Bearer ${token}` }],
      ["another key", { authorization: `DPoP ${token}`, dpop: await proof(other, "POST", url, token) }],
      ["replayed proof", { authorization: `DPoP ${token}`, dpop: sentProofs.at(-1)! }],
      ["another URL", { authorization: `DPoP ${token}`, dpop: await proof(key, "POST", `${base}/admin/tenants`, token) }],
      ["another method", { authorization: `DPoP ${token}`, dpop: await proof(key, "GET", url, token) }],
      ["iat too old", { authorization: `DPoP ${token}`, dpop: await proof(key, "POST", url, token, now - 400) }],
      ["iat in the future", { authorization: `DPoP ${token}`, dpop: await proof(key, "POST", url, token, now + 400) }],
    ];
    const originId = await originTaskId(handle);
    for (const [label, headers] of attempts) {
      const mark = demo.received.length;
      const refused = await rawGet(handle, headers);
      expect({ label, status: refused.status, code: refused.messages[0]?.error?.code }).toEqual({ label, status: 401, code: -32001 });
      expect(refused.challenge).toContain('DPoP error="invalid_dpop_proof", algs="EdDSA ES256"');
      expect(demo.received.slice(mark).filter((m) => JSON.stringify(m).includes(refused.marker) || m.taskId === originId)).toEqual([]);
    }
    // Control: the same request with a fresh proof is answered.
    const ok = await rawGet(handle, { authorization: `DPoP ${token}`, dpop: await proof(key, "POST", url, token) });
    expect({ status: ok.status, taskId: ok.messages[0]?.result?.taskId }).toEqual({ status: 200, taskId: handle });
  });

  it("a handle copied from the client and sent straight to the origin (same session, old header) opens nothing", async () => {
    // The same session as the origin knows it (the client holds only a sealed id).
    const originSession = demo.received.find((m) => (m.assertion as { sub?: string } | undefined)?.sub === ALICE.sub && m.sessionId !== undefined)!.sessionId!;
    for (const taskId of [handle, await originTaskId(handle)]) {
      const response = await fetch(demo.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": originSession, [TASK_HANDLE_HEADER]: handle },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/result", params: { taskId } }),
      });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: { data: { code: "ERR_ASSERTION_MISSING" } } });
    }
  });

  it("after an admin revocation, the origin refuses every assertion issued before it once the lifetime has passed, with no call to the authority", async () => {
    const fresh = await createTask(client, "slow_echo", { text: "to revoke", delayMs: 20 });
    await client.experimental.tasks.getTask(fresh);
    const freshOriginId = await originTaskId(fresh);
    const forwarded = demo.received.filter((m) => m.method === "tasks/get" && m.taskId === freshOriginId).at(-1)!;
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    // A stateless origin (no replay cache) takes the assertion within its lifetime…
    const stateless = { issuer: base, audience: demo.url, jwks, replayCache: false as const, clockToleranceSeconds: 0, maxAgeSeconds: ASSERTION_TTL_SECONDS };
    const call = { body: forwarded.bodyText! };
    const claims = await verifyOriginAssertion(forwarded.assertionToken, call, stateless);
    expect(claims.exp - claims.iat).toBe(ASSERTION_TTL_SECONDS);
    const revoked = await fetch(`${base}/admin/revocations`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ handle: fresh }) });
    expect(revoked.status).toBe(200);
    const mark = demo.received.length;
    await expectTaskNotFound(client.experimental.tasks.getTask(fresh));
    expect(demo.received.slice(mark).filter((m) => m.taskId === claims.task)).toEqual([]);
    // …the demo origin, which keeps a replay cache, refuses it at once…
    const replay = await fetch(demo.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": forwarded.sessionId!, [ORIGIN_ASSERTION_HEADER]: forwarded.assertionToken! }, body: forwarded.bodyText });
    expect(replay.status).toBe(403);
    expect(await replay.json()).toMatchObject({ error: { data: { code: "ERR_ASSERTION_REPLAYED" } } });
    // …and once the lifetime has passed, every verifier refuses it, and taskward issues no new one.
    await new Promise((resolve) => setTimeout(resolve, (claims.exp + 1) * 1000 - Date.now()));
    await expect(verifyOriginAssertion(forwarded.assertionToken, call, stateless)).rejects.toMatchObject({ code: "ERR_ASSERTION_EXPIRED" });
  });
});
