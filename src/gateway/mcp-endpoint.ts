import type { Context } from "hono";
import { authenticate, bearerChallenge } from "../auth/authenticate.js";
import type { Principal } from "../auth/principal.js";
import { configFor, type Config, type WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import type { KeyRing } from "../handle/keyring.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { parseClientMessage, rpcError, type RequestId } from "../mcp/envelope.js";
import { PROTOCOL_VERSION_HEADER } from "../mcp/headers.js";
import { rewriteOutboundMessage } from "../mcp/rewrite.js";
import { decideRevision } from "../mcp/revisions/index.js";
import { routingHeadersFor } from "../mcp/routing-headers.js";
import { eventIdSealer, type EventIdSealer } from "../proxy/event-ids.js";
import { forwardToOrigin } from "../proxy/forward.js";
import { originRequestHeaders, streamRequestHeaders } from "../proxy/headers.js";
import { relayOriginResponse } from "../proxy/respond.js";
import { readBoundedBody } from "./read-body.js";
import { readRequest } from "./read-request.js";
import { planRoute, type RouteContext } from "./routes/index.js";
import { taskIdMapperFor } from "./task-id-mapper.js";

export type AppEnv = { Bindings: WorkerEnv };

/** A refusal as the client sees it: JSON-RPC error body, HTTP status, WWW-Authenticate on 401. */
export function refusalResponse(refusal: Refusal, id: RequestId | null, config: Config | undefined): Response {
  const headers = new Headers({ "content-type": "application/json", ...refusal.headers });
  if (refusal.status === 401 && config) {
    headers.set("www-authenticate", bearerChallenge(config, refusal.code === "invalid_credentials" ? "invalid_token" : undefined));
  }
  return new Response(JSON.stringify(rpcError(id, refusal.rpcCode, refusal.wireMessage, refusal.data)), { status: refusal.status, headers });
}

/** Seals SSE event ids for this caller (none without a signing secret: ids are then removed). */
function eventIdsFor(config: Config, principal: Principal): EventIdSealer | undefined {
  return config.signingJwks ? eventIdSealer(config.signingJwks, principal) : undefined;
}

async function requireKeyRing(config: Config): Promise<KeyRing> {
  const pending = signingKeyRing(config);
  if (!pending) throw new Refusal("signing_unavailable", "HANDLE_SIGNING_JWKS is not set");
  try {
    return await pending;
  } catch (error) {
    throw new Refusal("signing_unavailable", (error as Error).message);
  }
}

/**
 * POST /mcp: authenticate → read once (one revision, one classification) → the route's forward
 * plan (decide: policy, handle, ledger) → forward re-encoded from the decision → rewrite answers.
 */
export async function handleMcpPost(c: Context<AppEnv>): Promise<Response> {
  const config = configFor(c.env);
  let requestId: RequestId | null = null;
  try {
    const contentType = c.req.header("content-type") ?? "";
    if (!/^application\/json\b/i.test(contentType)) throw new Refusal("unsupported_media_type");
    const principal = await authenticate(c.req.header("authorization"), config, c.env);
    const body = await readBoundedBody(c.req.raw, config.maxBodyBytes);
    const message = parseClientMessage(body);
    if (message.kind !== "notification") requestId = message.id;
    // The negotiated version of a 2025-11-25 session comes from the session module (not bound yet: undefined).
    const { revision, classified } = readRequest(c.req.raw.headers, message, undefined);
    const context: RouteContext = { env: c.env, config, principal, revision, keyRing: () => requireKeyRing(config), waitUntil: (p) => c.executionCtx.waitUntil(p) };
    const plan = await planRoute(context, classified);
    const headers = originRequestHeaders(c.req.raw.headers, {
      version: revision.version,
      routing: routingHeadersFor(c.req.raw.headers, plan.message, revision.module, plan.taskFollowUp ?? false),
      handle: plan.handle,
    });
    const origin = await forwardToOrigin(config.originUrl, { method: "POST", headers, body: JSON.stringify(plan.message.raw) });
    return await relayOriginResponse(origin, plan.mapResponse, requestId, eventIdsFor(config, principal));
  } catch (error) {
    if (error instanceof Refusal) return refusalResponse(error, requestId ?? error.requestId, config);
    throw error;
  }
}

/**
 * GET /mcp (server-initiated SSE stream) and DELETE /mcp (end session): authenticated
 * pass-through with rewriting. No body: the revision is the header's (or the session's), and no
 * routing header is forwarded.
 */
export async function handleMcpStream(c: Context<AppEnv>): Promise<Response> {
  const config = configFor(c.env);
  try {
    const principal = await authenticate(c.req.header("authorization"), config, c.env);
    const decision = decideRevision({ header: c.req.header(PROTOCOL_VERSION_HEADER), metaVersion: undefined, paramsProtocolVersion: undefined, method: undefined, sessionRevision: undefined });
    if (!decision.ok) throw new Refusal("header_mismatch", `${decision.signal} ${decision.claimed} vs ${decision.decided}`);
    const eventIds = eventIdsFor(config, principal);
    const sealedLastEventId = c.req.header("last-event-id");
    // A Last-Event-ID this authority did not issue to this caller is dropped: the origin starts a fresh stream.
    const lastEventId = sealedLastEventId !== undefined && eventIds ? await eventIds.open(sealedLastEventId) : undefined;
    const origin = await forwardToOrigin(config.originUrl, { method: c.req.method, headers: streamRequestHeaders(c.req.raw.headers, decision.version, lastEventId) });
    const mapper = taskIdMapperFor({ env: c.env, config, principal, waitUntil: (p) => c.executionCtx.waitUntil(p) });
    return relayOriginResponse(origin, (m) => rewriteOutboundMessage(m, { requestId: undefined, requestMethod: undefined, mapper, module: decision.module }), null, eventIds);
  } catch (error) {
    if (error instanceof Refusal) return refusalResponse(error, null, config);
    throw error;
  }
}
