/**
 * Helpers for the hostile-input matrix (test/adversarial): forge handles and tokens with the
 * deployment's own test key (or a foreign one) at the byte level, drive the Worker with raw
 * requests, and prove that a refused request never reached the origin.
 *
 * "Nothing reached the origin" is checked on the demo origin's log (`originReceived()`): every
 * case tags its requests with a unique `User-Agent` (or uses its own freshly opened MCP
 * session) and a unique JSON-RPC id, and the log entries added during the case must not mention
 * that tag, the case's handle or the origin task id behind it. The files of the workers project
 * run in parallel against one shared origin, so a bare length comparison would flake; the tags
 * make the before/after comparison exact per case.
 */
import { SignJWT, exportJWK, generateKeyPair, type JWK } from "jose";
import { expect, inject } from "vitest";
import { generateSigningJwks, loadKeyRing, type KeyRing } from "../../src/handle/keyring.js";
import { McpSession, adminFetch, decodeClaims, devToken, forwardedFor, originReceived, originTaskIdOf, readReply, worker, type Identity, type RpcReply } from "../support/mcp-client.js";

export const NOT_FOUND = { code: -32602, message: "Task not found" } as const;
export const HANDLE_TYP = "mcp-task-handle+jwt";
export const ISSUER = "https://taskward.test";
export const RESOURCE = "https://taskward.test/mcp";
export const DEV_ISSUER = "https://taskward.test/dev";
export const TASKS_EXT = "io.modelcontextprotocol/tasks";

// ---- identities and tags ----

let counter = 0;
/** A short unique string usable as an identifier part (tenant/client/sub) and as a log needle. */
export function tag(prefix = "adv"): string {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A fresh principal, so per-principal refusal rate limits never interfere between cases. */
export function freshIdentity(tenant: string): Identity {
  return { tenant, client_id: tag("cli"), sub: tag("sub") };
}

// ---- keys ----

let ringPromise: Promise<KeyRing> | undefined;
/** The deployment's key ring (the Worker's HANDLE_SIGNING_JWKS in the workers project). */
export function testKeyRing(): Promise<KeyRing> {
  ringPromise ??= loadKeyRing(inject("signingJwks"));
  return ringPromise;
}

let foreignPromise: Promise<KeyRing> | undefined;
/** Another deployment's key ring (EdDSA, its own kid). */
export function foreignKeyRing(): Promise<KeyRing> {
  foreignPromise ??= generateSigningJwks("EdDSA").then(loadKeyRing);
  return foreignPromise;
}

/** A foreign ES256 key pair, for alg/key confusion. */
export async function foreignEs256(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

// ---- compact JWS at the byte level ----

export function b64url(input: string | Uint8Array): string {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function decodeHeader(token: string): Record<string, any> {
  return JSON.parse(new TextDecoder().decode(fromB64url(token.split(".")[0]!)));
}

/** Signs `header.payload` exactly as given (any header, including ones jose refuses to produce). */
export async function signRaw(header: Record<string, unknown>, payload: Record<string, unknown> | string, key: CryptoKey): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(typeof payload === "string" ? payload : JSON.stringify(payload))}`;
  const algorithm = key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : { name: key.algorithm.name };
  const signature = new Uint8Array(await crypto.subtle.sign(algorithm, key, new TextEncoder().encode(input)));
  return `${input}.${b64url(signature)}`;
}

/** HS256 over `header.payload` keyed with `secret` (the classic public-key-as-HMAC-secret confusion). */
export async function signHs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: Uint8Array): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
  return `${input}.${b64url(signature)}`;
}

/** An unsigned (`alg: none`) token: `header.payload.` plus an optional fake signature. */
export function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ""): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.${signature}`;
}

/**
 * Re-signs a real handle with the deployment's own key after changing its header and/or claims:
 * with no changes the result is a valid handle for the same ledger record (see the control case),
 * so a refusal of a variant is caused by exactly the change made.
 */
export async function resign(
  handle: string,
  change: { header?: (h: Record<string, any>) => Record<string, any>; claims?: (c: Record<string, any>) => Record<string, any> } = {},
  key?: CryptoKey,
): Promise<string> {
  const ring = await testKeyRing();
  const header = (change.header ?? ((h) => h))({ ...decodeHeader(handle) });
  const claims = (change.claims ?? ((c) => c))({ ...decodeClaims(handle) });
  return signRaw(header, claims, key ?? ring.signing.key);
}

// ---- raw requests ----

export interface RawReply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function rawPost(body: BodyInit | null, headers: HeadersInit, path = "/mcp"): Promise<RawReply> {
  const response = await worker().fetch(`https://taskward.test${path}`, { method: "POST", headers, body });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/**
 * Standard MCP POST headers for a caller token; `sessionTag` goes out in User-Agent (which the
 * edge forwards and the demo origin logs) so a forwarded request is findable. (Mcp-Session-Id
 * cannot carry it: a session id this authority did not seal is refused before anything else.)
 */
export function mcpHeaders(token: string | undefined, sessionTag: string, extra: Record<string, string> = {}, protocolVersion = "2025-11-25"): Headers {
  const headers = new Headers({
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": protocolVersion,
    "user-agent": `taskward-adversarial ${sessionTag}`,
  });
  if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return headers;
}

/** `_meta` of a 2026-07-28 request. */
export function modernMeta(declareTasks = true): Record<string, unknown> {
  return {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "adversarial", version: "0" },
    "io.modelcontextprotocol/clientCapabilities": declareTasks ? { extensions: { [TASKS_EXT]: {} } } : {},
  };
}

// ---- assertions ----

/** The demo origin's log with every recorded field (method, id, taskId, handle, sessionId, userAgent, params, mcpMethod, mcpName, …). */
export async function originLog(): Promise<Array<Record<string, any>>> {
  return (await originReceived()) as Array<Record<string, any>>;
}

/** Index into the origin log before a case's hostile request. */
export async function originMark(): Promise<number> {
  return (await originReceived()).length;
}

/** The origin log entries added since `mark` that mention any needle (tag, handle, origin task id). */
export async function forwardedSince(mark: number, needles: string[]): Promise<unknown[]> {
  const since = (await originReceived()).slice(mark);
  return since.filter((entry) => needles.some((needle) => needle.length > 0 && JSON.stringify(entry).includes(needle)));
}

export async function expectNothingForwarded(mark: number, needles: string[]): Promise<void> {
  expect(needles.filter(Boolean).length).toBeGreaterThan(0);
  expect(await forwardedSince(mark, needles)).toEqual([]);
}

/** The exact JSON-RPC refusal: HTTP status, `jsonrpc`, echoed id, `error.code` and `error.message`. */
export function expectRpcRefusal(reply: { status: number; body: any }, status: number, code: number, message: string, id: unknown = null): void {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { jsonrpc: "2.0", id, error: { code, message } } });
}

// ---- owned tasks ----

export interface OwnedTask {
  identity: Identity;
  session: McpSession;
  handle: string;
  claims: Record<string, any>;
  /** The origin's id of the task (from the ledger: the handle does not carry it). */
  originTaskId: string;
}

/** A fresh principal with a fresh MCP session and one task it created. */
export async function ownedTask(tenant: string, tool = "slow_echo", args: Record<string, unknown> = { text: "adversarial", delayMs: 20 }, identity = freshIdentity(tenant)): Promise<OwnedTask> {
  const session = await McpSession.open(identity);
  const { handle } = await session.createTask(tool, args);
  return { identity, session, handle, claims: decodeClaims(handle), originTaskId: await originTaskIdOf(handle) };
}

/**
 * Sends a follow-up with `taskId` from `session` and asserts the one refusal every handle failure
 * gives (HTTP 200, -32602 "Task not found", the request id echoed), and that the origin saw
 * nothing of it.
 */
export async function expectFollowUpRefused(session: McpSession, method: string, taskId: unknown, needles: string[] = [], extraHeaders: Record<string, string> = {}): Promise<RpcReply> {
  const mark = await originMark();
  const id = tag("rq");
  const response = await session.post({ jsonrpc: "2.0", id, method, params: { taskId } }, extraHeaders);
  const reply = await readReply(response, id);
  expect({ status: reply.status, error: reply.reply?.error, id: reply.reply?.id }).toEqual({ status: 200, error: NOT_FOUND, id });
  await expectNothingForwarded(mark, [id, session.sessionId ?? "", ...(typeof taskId === "string" ? [taskId] : []), ...needles]);
  return reply;
}

export { McpSession, adminFetch, decodeClaims, devToken, forwardedFor, originReceived, originTaskIdOf, readReply, worker, SignJWT };
export type { Identity };

// ---- audit ----

/** The newest `denied` audit event of `subject` in `tenant`'s chain (detail parsed). */
export async function lastDenial(tenant: string, subject: string): Promise<Record<string, any> | undefined> {
  const response = await adminFetch(`/tenants/${tenant}/audit?limit=10000`);
  const text = new TextDecoder().decode(await response.arrayBuffer());
  const events = text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
  const denial = events.filter((e) => e.type === "denied" && e.subject === subject).at(-1);
  if (denial && typeof denial.detail === "string") denial.detail = JSON.parse(denial.detail);
  return denial;
}

/** Asserts the audit trail recorded the real reason of the refusal (the wire only ever says "Task not found"). */
export async function expectAuditedDenial(tenant: string, subject: string, reason: string, code?: string): Promise<void> {
  const denial = await lastDenial(tenant, subject);
  expect({ reason: denial?.reason, code: denial?.detail?.code }).toEqual({ reason, code });
}
