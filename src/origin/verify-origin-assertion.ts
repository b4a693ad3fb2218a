/**
 * Verifies taskward's per-call origin assertion in an origin server, statelessly: signature by
 * taskward's JWKS, `typ`, issuer, audience, lifetime and age, replay window, the digest of the
 * body actually received, and that the decided operation and task are the ones the JSON-RPC
 * message asks for. A client-visible handle alone opens nothing here.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { ORIGIN_ASSERTION_TYP, type OriginAssertionClaims, type OriginAssertionOp } from "./origin-assertion-claims.js";

export type OriginAssertionErrorCode =
  | "ERR_ASSERTION_MISSING"
  | "ERR_ASSERTION_INVALID"
  | "ERR_ASSERTION_EXPIRED"
  | "ERR_ASSERTION_CLAIM"
  | "ERR_ASSERTION_REPLAYED"
  | "ERR_ASSERTION_REPLAY_CACHE_FULL"
  | "ERR_ASSERTION_BODY_MISMATCH"
  | "ERR_ASSERTION_OP_MISMATCH"
  | "ERR_ASSERTION_TASK_MISMATCH";

export class OriginAssertionError extends Error {
  override readonly name = "OriginAssertionError";
  constructor(
    readonly code: OriginAssertionErrorCode,
    message: string,
    /** The claim at fault, when one is. */
    readonly claim?: string,
  ) {
    super(message);
  }
}

/**
 * Assertion ids seen within their lifetime. Bounded: entries leave when their assertion expires,
 * and when the cache is full a new assertion is refused rather than an unexpired entry evicted.
 */
export class AssertionReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(readonly maxEntries = 100_000) {}

  /** Records `jti` until `expiresAtMs`; false when it was already there (a replay). */
  remember(jti: string, expiresAtMs: number, nowMs = Date.now()): boolean {
    const until = this.seen.get(jti);
    if (until !== undefined && until > nowMs) return false;
    if (this.seen.size >= this.maxEntries) {
      // Map iteration is insertion order, which is nearly expiry order: stop at the first live entry.
      for (const [key, expiry] of this.seen) {
        if (expiry > nowMs) break;
        this.seen.delete(key);
      }
      if (this.seen.size >= this.maxEntries) throw new OriginAssertionError("ERR_ASSERTION_REPLAY_CACHE_FULL", "replay cache is full; refusing rather than forgetting a live assertion");
    }
    this.seen.set(jti, expiresAtMs);
    return true;
  }
}

export interface VerifyOriginAssertionOptions {
  /** taskward's URL: the assertions' `iss`. */
  issuer: string;
  /** This origin's canonical MCP resource URI: the assertions' `aud`. */
  audience: string;
  /** taskward's public keys: the JWKS document, or its URL (fetched and cached). */
  jwks: JSONWebKeySet | URL;
  /** Oldest assertion accepted, from its `iat`, whatever its `exp` says. Default 60 s. */
  maxAgeSeconds?: number;
  /** Clock skew tolerated. Default 5 s. */
  clockToleranceSeconds?: number;
  /** Replay window: a cache of ids seen (default: one per options object), or false to skip. */
  replayCache?: AssertionReplayCache | false;
  now?: () => number;
}

/** What the origin received: the exact body bytes, and the JSON-RPC message parsed from them. */
export interface ReceivedCall {
  body: Uint8Array | string;
  /** Defaults to JSON.parse of `body`. */
  message?: unknown;
}

const ALGORITHMS = ["EdDSA", "ES256"];
const TASK_METHODS: Record<string, OriginAssertionOp[]> = {
  "tools/call": ["create"],
  // 2026-07-28 tasks/get may carry the result inline: the edge decides it as `result` then.
  "tasks/get": ["get", "result"],
  "tasks/result": ["result"],
  "tasks/cancel": ["cancel"],
  "tasks/update": ["update"],
  "tasks/list": ["list"],
  "subscriptions/listen": ["listen", "message"],
};
const TASK_OPS: ReadonlySet<string> = new Set(["get", "result", "cancel", "update"]);
const OPS: ReadonlySet<string> = new Set(["create", "get", "result", "cancel", "update", "list", "listen", "message"]);

const remoteSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const localSets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>();
const defaultCaches = new WeakMap<VerifyOriginAssertionOptions, AssertionReplayCache>();

type KeySet = ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;

function keySetFor(jwks: JSONWebKeySet | URL): KeySet {
  if (jwks instanceof URL) {
    let set = remoteSets.get(jwks.href);
    if (!set) remoteSets.set(jwks.href, (set = createRemoteJWKSet(jwks)));
    return set;
  }
  let set = localSets.get(jwks);
  if (!set) localSets.set(jwks, (set = createLocalJWKSet(jwks)));
  return set;
}

function translate(error: unknown): OriginAssertionError {
  if (error instanceof OriginAssertionError) return error;
  if (error instanceof joseErrors.JWTExpired) return new OriginAssertionError("ERR_ASSERTION_EXPIRED", "assertion has expired", "exp");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "iat" && /age/.test(error.reason)) return new OriginAssertionError("ERR_ASSERTION_EXPIRED", "assertion is older than maxAgeSeconds", "iat");
    // A task handle or an access token signed by the same key is not an assertion.
    if (error.claim === "typ") return new OriginAssertionError("ERR_ASSERTION_INVALID", `typ is not ${ORIGIN_ASSERTION_TYP}`, "typ");
    return new OriginAssertionError("ERR_ASSERTION_CLAIM", `claim ${error.claim} ${error.reason}`, error.claim);
  }
  return new OriginAssertionError("ERR_ASSERTION_INVALID", `assertion does not verify: ${(error as Error).message}`);
}

function claimsOf(payload: JWTPayload): OriginAssertionClaims {
  const strings = ["iss", "aud", "jti", "txn", "tenant", "client_id", "sub", "op", "req_digest"] as const;
  for (const name of strings) {
    if (typeof payload[name] !== "string" || (payload[name] as string).length === 0) throw new OriginAssertionError("ERR_ASSERTION_CLAIM", `claim ${name} must be a non-empty string`, name);
  }
  if (!OPS.has(payload.op as string)) throw new OriginAssertionError("ERR_ASSERTION_CLAIM", `claim op ${JSON.stringify(payload.op)} is unknown`, "op");
  for (const name of ["task", "handle_jti"] as const) {
    if (payload[name] !== undefined && typeof payload[name] !== "string") throw new OriginAssertionError("ERR_ASSERTION_CLAIM", `claim ${name} must be a string`, name);
  }
  if (payload.tasks !== undefined && !(Array.isArray(payload.tasks) && payload.tasks.every((t) => typeof t === "string"))) {
    throw new OriginAssertionError("ERR_ASSERTION_CLAIM", "claim tasks must be an array of strings", "tasks");
  }
  return payload as unknown as OriginAssertionClaims;
}

async function digestOf(body: Uint8Array | string): Promise<string> {
  // A Buffer or Uint8Array over any ArrayBuffer: WebCrypto reads the view as given.
  const bytes = (typeof body === "string" ? new TextEncoder().encode(body) : body) as Uint8Array<ArrayBuffer>;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The decided operation and task(s) must be what the message asks for. */
function checkOperation(claims: OriginAssertionClaims, message: unknown): void {
  const rpc = record(message);
  if (!rpc) throw new OriginAssertionError("ERR_ASSERTION_OP_MISMATCH", "the body is not one JSON-RPC message");
  const method = typeof rpc.method === "string" ? rpc.method : undefined;
  const allowed = (method !== undefined && TASK_METHODS[method]) || ["message"];
  if (!allowed.includes(claims.op)) throw new OriginAssertionError("ERR_ASSERTION_OP_MISMATCH", `op ${claims.op} was not decided for ${method ?? "this message"}`, "op");
  const params = record(rpc.params);
  if (TASK_OPS.has(claims.op)) {
    if (claims.task === undefined || params?.taskId !== claims.task) throw new OriginAssertionError("ERR_ASSERTION_TASK_MISMATCH", "params.taskId is not the task the assertion names", "task");
  } else if (claims.task !== undefined) {
    throw new OriginAssertionError("ERR_ASSERTION_TASK_MISMATCH", `op ${claims.op} names no task`, "task");
  }
  if (claims.op === "listen") {
    const asked = record(params?.notifications)?.taskIds;
    const granted = new Set(claims.tasks ?? []);
    if (!Array.isArray(asked) || asked.length !== granted.size || !asked.every((id) => granted.has(id as string))) {
      throw new OriginAssertionError("ERR_ASSERTION_TASK_MISMATCH", "notifications.taskIds are not the tasks the assertion names", "tasks");
    }
  }
}

/**
 * Verifies the `Taskward-Origin-Assertion` of one received call and returns its typed claims;
 * throws OriginAssertionError with a stable `code`.
 */
export async function verifyOriginAssertion(token: string | undefined, call: ReceivedCall, options: VerifyOriginAssertionOptions): Promise<OriginAssertionClaims> {
  if (!token) throw new OriginAssertionError("ERR_ASSERTION_MISSING", "the call carries no origin assertion");
  const nowMs = options.now?.() ?? Date.now();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keySetFor(options.jwks), {
      algorithms: ALGORITHMS,
      typ: ORIGIN_ASSERTION_TYP,
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: ["iat", "exp", "jti"],
      maxTokenAge: options.maxAgeSeconds ?? 60,
      clockTolerance: options.clockToleranceSeconds ?? 5,
      currentDate: new Date(nowMs),
    }));
  } catch (error) {
    throw translate(error);
  }
  const claims = claimsOf(payload);
  if (claims.req_digest !== (await digestOf(call.body))) throw new OriginAssertionError("ERR_ASSERTION_BODY_MISMATCH", "the body received is not the body the assertion was signed for", "req_digest");
  let message = call.message;
  if (message === undefined) {
    try {
      message = JSON.parse(typeof call.body === "string" ? call.body : new TextDecoder().decode(call.body));
    } catch {
      throw new OriginAssertionError("ERR_ASSERTION_OP_MISMATCH", "the body is not JSON");
    }
  }
  checkOperation(claims, message);
  // Checked last, so a refused call does not use up the id of a genuine assertion.
  if (options.replayCache !== false) {
    let cache = options.replayCache;
    if (!cache) {
      cache = defaultCaches.get(options) ?? new AssertionReplayCache();
      defaultCaches.set(options, cache);
    }
    if (!cache.remember(claims.jti, (claims.exp + (options.clockToleranceSeconds ?? 5)) * 1000, nowMs)) {
      throw new OriginAssertionError("ERR_ASSERTION_REPLAYED", "this assertion was already used", "jti");
    }
  }
  return claims;
}
