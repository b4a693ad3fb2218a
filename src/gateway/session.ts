import type { Principal } from "../auth/principal.js";
import type { WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import type { KeyRing } from "../handle/keyring.js";
import { seal, unseal } from "../handle/seal.js";
import { shardLedger } from "../ledger/ledger-client.js";
import { ledgerPrincipalOf } from "../ledger/types.js";
import { isObject } from "../mcp/envelope.js";
import { SESSION_ID_HEADER } from "../mcp/headers.js";
import { messagesInAnswer } from "../mcp/sse.js";
import { readBoundedBytes } from "../proxy/read-bounded.js";
import { VerificationCache } from "../verification-cache.js";
import { rateLimitRefusal } from "./authorize-follow-up.js";

/**
 * A 2025-11-25 session as the edge knows it. The client never sees the origin's session id: it
 * holds a sealed value naming the origin session, the principal that opened it and the revision
 * it negotiated, so binding a session costs no ledger lookup.
 */
export interface BoundSession {
  originSessionId: string;
  /** The protocol revision the session negotiated at `initialize`. */
  revision: string;
  /** What the client sends in Mcp-Session-Id. */
  sealed: string;
  /** SHA-256 of the origin session id: what session-bound handles record. */
  key: string;
}

/** An initialize answer is buffered to learn the negotiated revision; it is one small message. */
const MAX_INITIALIZE_RESPONSE_BYTES = 1024 * 1024;

async function sessionKeyOf(originSessionId: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(originSessionId)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What opening a sealed session value established: its claims and its ledger key. */
interface OpenedSession {
  claims: Record<string, unknown>;
  key: string;
}

/** How long an opened session value is remembered; sealed sessions never expire, this only bounds the cache. */
const OPENED_SESSION_TTL_MS = 10 * 60_000;

/** One cache per key ring, like verified handles: replacing the keys (rotation, retirement) starts from nothing. */
const openedByKeyRing = new WeakMap<KeyRing, VerificationCache<OpenedSession>>();

/** Unseals a session value once per isolate (AES-GCM and a SHA-256 per poll otherwise); a value that fails is never cached. */
async function openSealed(sealed: string, keyRing: KeyRing): Promise<OpenedSession | undefined> {
  let cache = openedByKeyRing.get(keyRing);
  if (!cache) openedByKeyRing.set(keyRing, (cache = new VerificationCache<OpenedSession>()));
  const cached = cache.get(sealed);
  if (cached) return cached;
  const claims = await unseal("session", sealed, keyRing);
  if (!claims || typeof claims.sid !== "string" || typeof claims.v !== "string") return undefined;
  const opened = { claims, key: await sessionKeyOf(claims.sid) };
  cache.set(sealed, opened, Date.now() + OPENED_SESSION_TTL_MS);
  return opened;
}

function unknownSession(detail: string): Refusal {
  return new Refusal("session_not_found", detail);
}

/**
 * The session a request names in Mcp-Session-Id, opened and checked against the caller. A value
 * this authority did not seal, or sealed for another principal, answers exactly like an unknown
 * session (404) and is audited in the caller's own ledger.
 */
export async function openClientSession(sealed: string | null, principal: Principal, keyRing: KeyRing, env: WorkerEnv): Promise<BoundSession | undefined> {
  if (sealed === null) return undefined;
  const opened = await openSealed(sealed, keyRing);
  if (!opened) {
    await recordSessionRefusal(env, principal, "session_invalid", {});
    throw unknownSession("session id not sealed by this authority");
  }
  const { claims, key } = opened;
  // Checked on every request, cached or not: the cache remembers what the seal proves, not who may use it.
  if (claims.t !== principal.tenant || claims.c !== principal.clientId || claims.s !== principal.subject) {
    await recordSessionRefusal(env, principal, "session_mismatch", { sessionTenant: claims.t });
    throw unknownSession("session opened by another principal");
  }
  // A session lives at one origin: behind another it is unknown (sessions of the default origin carry no `o`).
  if (claims.o !== principal.origin) {
    await recordSessionRefusal(env, principal, "session_mismatch", { sessionOrigin: claims.o ?? null, origin: principal.origin ?? null });
    throw unknownSession("session opened behind another origin");
  }
  return { originSessionId: claims.sid as string, revision: claims.v as string, sealed, key };
}

/** Audited in the caller's ledger, counted in its refusal window (behind a non-default origin, that origin's). */
async function recordSessionRefusal(env: WorkerEnv, principal: Principal, reason: "session_invalid" | "session_mismatch", detail: unknown): Promise<void> {
  const { retryAfterSeconds } = await shardLedger(env, principal.tenant, 0).recordRefusal(principal.tenant, ledgerPrincipalOf(principal), reason, detail);
  if (retryAfterSeconds > 0) throw rateLimitRefusal(retryAfterSeconds);
}

export interface SessionExchange {
  /** The session the request named, if any. */
  inbound: BoundSession | undefined;
  principal: Principal;
  /** Set for `initialize`: the revision the client asked for (used if the answer names none), and the keys to seal with. */
  initialize?: { requestedRevision: string; keyRing: KeyRing };
}

/**
 * The origin's answer with its Mcp-Session-Id made client-safe: the inbound session's sealed value
 * when the origin names that session, a newly sealed one when `initialize` opened a session, and
 * nothing otherwise — an origin session id never reaches a client.
 */
export async function withClientSessionId(origin: Response, exchange: SessionExchange): Promise<Response> {
  const originSessionId = origin.headers.get(SESSION_ID_HEADER);
  if (originSessionId === null) return origin;
  const headers = new Headers(origin.headers);
  let body: BodyInit | null = origin.body;
  if (exchange.inbound && exchange.inbound.originSessionId === originSessionId) {
    headers.set(SESSION_ID_HEADER, exchange.inbound.sealed);
  } else if (exchange.initialize) {
    const text = await bufferedText(origin);
    body = text;
    const revision = negotiatedRevision(text, origin.headers.get("content-type") ?? "") ?? exchange.initialize.requestedRevision;
    const { principal } = exchange;
    headers.set(SESSION_ID_HEADER, await seal("session", { sid: originSessionId, v: revision, t: principal.tenant, c: principal.clientId, s: principal.subject, ...(principal.origin === undefined ? {} : { o: principal.origin }) }, exchange.initialize.keyRing));
  } else {
    headers.delete(SESSION_ID_HEADER);
  }
  return new Response(body, { status: origin.status, statusText: origin.statusText, headers });
}

async function bufferedText(origin: Response): Promise<string> {
  if (!origin.body) return "";
  const read = await readBoundedBytes(origin.body, MAX_INITIALIZE_RESPONSE_BYTES);
  if ("tooLarge" in read) throw new Refusal("origin_invalid_response", "initialize response too large");
  return new TextDecoder().decode(read.bytes);
}

/** `result.protocolVersion` of the initialize answer, in a JSON body or in an SSE event's data. */
function negotiatedRevision(text: string, contentType: string): string | undefined {
  for (const message of messagesInAnswer(text, contentType)) {
    const version = isObject(message.result) ? message.result.protocolVersion : undefined;
    if (typeof version === "string") return version;
  }
  return undefined;
}
