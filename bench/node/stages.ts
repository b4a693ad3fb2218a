/**
 * Per-stage CPU of one `tasks/get` follow-up on the Worker's path, in Node with the real src/
 * functions and no I/O (the ledger and the origin answer from memory): which stages are worth
 * doing once per isolate, or not at all. Each stage is timed alone, interleaved round by round.
 * Run by bench/run.mjs --stages, or `node --import tsx bench/node/stages.ts [rounds] [roundMs]`;
 * prints one JSON document. Not the Worker: workerd's figures differ, the proportions are the point.
 */
import { performance } from "node:perf_hooks";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/keyring.js";
import { mintHandle } from "../../src/handle/mint.js";
import { keyRingResolver } from "../../src/handle/resolve.js";
import { verifyHandle } from "../../src/handle/verify.js";
import { readRequest } from "../../src/gateway/read-request.js";
import { openClientSession } from "../../src/gateway/session.js";
import { seal, unseal } from "../../src/handle/seal.js";
import type { WorkerEnv } from "../../src/config.js";
import { parseClientMessage, type JsonObject } from "../../src/mcp/envelope.js";
import { rewriteOutboundMessage, type TaskIdMapper } from "../../src/mcp/rewrite.js";
import { routingHeadersFor } from "../../src/mcp/routing-headers.js";
import { revision20251125 } from "../../src/mcp/revisions/2025-11-25.js";
import { eventIdSealer } from "../../src/proxy/event-ids.js";
import { originRequestHeaders } from "../../src/proxy/headers.js";
import { newTransactionId, signOriginAssertion } from "../../src/proxy/origin-assertion.js";
import { interleave } from "../shared/crypto-cases.js";
import { createApp } from "../../src/app.js";
import { readBoundedBytes } from "../../src/proxy/read-bounded.js";

const rounds = Number(process.argv[2] ?? 6);
const roundMs = Number(process.argv[3] ?? 100);
const ISSUER = "https://taskward.bench";
const AUDIENCE = "https://origin.bench/mcp";

const jwks = await generateSigningJwks("EdDSA");
const ring = await loadKeyRing(jwks);
const task = "origin-task-7f3c2a9e-1b4d-4c8e-9a0f-5d6e7f8a9b0c";
const principal = { tenant: "bench-tenant", clientId: "bench-client", subject: "bench-user", authTime: 0, scopes: [], via: "dev" as const };
const { token: handle } = await mintHandle(
  { sub: principal.subject, tenant: principal.tenant, client_id: principal.clientId, task, tool: "bench_tool", ops: ["get", "result", "cancel"], mcp: "2025-11-25", exp: Math.floor(Date.now() / 1000) + 3600 },
  { keyRing: ring, issuer: ISSUER, audience: AUDIENCE },
);
const resolveKey = keyRingResolver(ring);
const clientHeaders = new Headers({ "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", authorization: "Bearer x" });
const clientBody = JSON.stringify({ jsonrpc: "2.0", id: 42, method: "tasks/get", params: { taskId: handle } });
const forwardedMessage = { jsonrpc: "2.0", id: 42, method: "tasks/get", params: { taskId: task } };
const stamp = new Date().toISOString();
const originAnswer = JSON.stringify({ jsonrpc: "2.0", id: 42, result: { taskId: task, status: "working", statusMessage: "step 3", createdAt: stamp, lastUpdatedAt: stamp, ttl: 600000, pollInterval: 1000 } });
const mapper: TaskIdMapper = {
  mint: () => Promise.reject(new Error("no creation on a poll")),
  resolve: async (ids) => new Map(ids.filter((id) => id === task).map((id) => [id, handle] as [string, string])),
  observeStatus: () => undefined,
  observeDelivery: () => undefined,
  effectiveTtlMs: () => 300_000,
  sealCursor: async (cursor) => cursor,
  knownNames: () => new Map([[task, handle]]),
  payloadAllowed: () => true,
  observeWithheld: () => undefined,
};
const message = parseClientMessage(clientBody);
// A 2025-11-25 client sends the sealed Mcp-Session-Id on every poll (src/gateway/session.ts).
const sealedSession = await seal("session", { sid: "origin-session-3b1f9c2e", v: "2025-11-25", t: principal.tenant, c: principal.clientId, s: principal.subject }, ring);

// Routing alone: a POST to /mcp/<unknown name> is answered (404) right after the path checks, before authentication.
const app = createApp();
const routingEnv = { TASKWARD_ISSUER: ISSUER, ORIGIN_URL: AUDIENCE } as unknown as WorkerEnv;
const routingCtx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
/** The client's poll as a fresh Request to `path`. */
const pollTo = (path: string) => new Request(`${ISSUER}${path}`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(clientBody)) }, body: clientBody });
const expect404 = async (response: Response | Promise<Response>) => {
  const answered = await response;
  if (answered.status !== 404) throw new Error(`routing stage: expected 404, got ${answered.status}`);
  return answered.arrayBuffer();
};
const MAX_BODY = 1024 * 1024;

const variants = await interleave(
  [
    { name: "route POST /mcp/<name> through Hono (router + body-limit, Origin, origin-name middlewares) to a 404", run: () => expect404(app.fetch(pollTo("/mcp/no-such-origin"), routingEnv, routingCtx)) },
    { name: "read the client body: chunk loop (readBoundedBytes), incl. new Request", run: () => readBoundedBytes(pollTo("/mcp").body!, MAX_BODY) },
    { name: "parse the client body (JSON.parse + envelope checks)", run: async () => parseClientMessage(clientBody) },
    {
      name: "open the sealed session uncached: unseal (AES-GCM JWE) + SHA-256 of its id",
      run: async () => {
        const claims = await unseal("session", sealedSession, ring);
        return crypto.subtle.digest("SHA-256", new TextEncoder().encode(claims!.sid as string));
      },
    },
    { name: "open the sealed session: openClientSession (once per isolate since issue 14)", run: () => openClientSession(sealedSession, principal, ring, {} as WorkerEnv) },
    { name: "read once (revision + classification)", run: async () => readRequest(clientHeaders, message, undefined) },
    { name: "verify the handle, uncached (the cache skips it on repeats)", run: () => verifyHandle(handle, { issuer: ISSUER, audience: AUDIENCE, resolveKey }) },
    { name: "re-encode the forwarded body (JSON.stringify + UTF-8)", run: async () => new TextEncoder().encode(JSON.stringify(forwardedMessage)) },
    { name: "origin request headers (copy + routing headers)", run: async () => originRequestHeaders(clientHeaders, { version: "2025-11-25", routing: routingHeadersFor(clientHeaders, message, revision20251125, true), handle: undefined }) },
    {
      name: "sign the origin assertion (SHA-256 of the body + one signature)",
      run: () => signOriginAssertion({ keyRing: ring, issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 60, principal, op: "get", task, handleJti: "h", txn: newTransactionId(), body: new TextEncoder().encode(JSON.stringify(forwardedMessage)) }),
    },
    { name: "event-id sealer per request", run: async () => eventIdSealer(ring, principal) },
    {
      name: "rewrite the origin's answer (JSON.parse + rewrite + JSON.stringify)",
      run: async () => JSON.stringify(await rewriteOutboundMessage(JSON.parse(originAnswer) as JsonObject, { requestId: 42, requestMethod: "tasks/get", mapper, module: revision20251125 })),
    },
  ],
  { rounds, roundMs, now: () => performance.now() },
);
process.stdout.write(`${JSON.stringify({ runtime: `node ${process.version}`, rounds, roundMs, stages: variants.map((v) => ({ stage: v.name, medianUs: v.latencyUs.median, p99Us: v.latencyUs.p99, opsPerSec: v.opsPerSec })) })}\n`);
