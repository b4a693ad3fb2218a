import { bearerChallenge } from "../auth/authenticate.js";
import { spendProof } from "../auth/dpop-replay.js";
import { authenticateCaller } from "../auth/proof-of-possession.js";
import { ORIGIN_ASSERTION_HEADER, newTransactionId, signOriginAssertion } from "../proxy/origin-assertion.js";
import type { Principal } from "../auth/principal.js";
import type { Config, WorkerEnv } from "../config.js";
import { behindOrigin, configForMcpCall, type McpCall } from "./mcp-path.js";
import { Refusal } from "../errors.js";
import type { KeyRing } from "../handle/keyring.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { parseClientMessage, rpcError, type RequestId } from "../mcp/envelope.js";
import { PROTOCOL_VERSION_HEADER, SESSION_ID_HEADER } from "../mcp/headers.js";
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
import { openClientSession, withClientSessionId, type BoundSession } from "./session.js";
import { locationHintFor, type RequestRegion } from "../ledger/placement.js";
import { onEveryShard } from "../ledger/shard-fan-out.js";

export type AppEnv = { Bindings: WorkerEnv };

/** A refusal as the client sees it: JSON-RPC error body, HTTP status, WWW-Authenticate on 401. */
export function refusalResponse(refusal: Refusal, id: RequestId | null, config: Config | undefined): Response {
  const headers = new Headers({ "content-type": "application/json", ...refusal.headers });
  if (refusal.status === 401 && config) {
    // A DPoP refusal carries its own challenge; the Bearer one stays for clients that only speak Bearer.
    const challenges = [bearerChallenge(config, refusal.code === "invalid_credentials" ? "invalid_token" : undefined), refusal.headers["www-authenticate"]];
    headers.set("www-authenticate", challenges.filter(Boolean).join(", "));
  }
  return new Response(JSON.stringify(rpcError(id, refusal.rpcCode, refusal.wireMessage, refusal.data)), { status: refusal.status, headers });
}

/** Seals SSE event ids for this caller (none without a signing key: ids are then removed). */
async function eventIdsFor(config: Config, principal: Principal): Promise<EventIdSealer | undefined> {
  const keyRing = await signingKeyRing(config)?.catch(() => undefined);
  return keyRing ? eventIdSealer(keyRing, principal) : undefined;
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
 * POST /mcp and /mcp/<origin>: authenticate → read once (one revision, one classification) → the route's forward
 * plan (decide: policy, handle, ledger) → forward re-encoded from the decision → rewrite answers.
 */
export async function handleMcpPost(call: McpCall): Promise<Response> {
  const { request, env } = call;
  const config = configForMcpCall(env, call.originName);
  let requestId: RequestId | null = null;
  try {
    const contentType = request.headers.get("content-type") ?? "";
    if (!JSON_CONTENT_TYPE.test(contentType)) throw new Refusal("unsupported_media_type");
    const authenticated = behindOrigin(await authenticateCaller(request, config, env), config);
    const body = await readBoundedBody(request, config.maxBodyBytes);
    const message = parseClientMessage(body);
    if (message.kind !== "notification") requestId = message.id;
    const session = await openSessionOf(request, config, authenticated, env);
    const principal: Principal = session ? { ...authenticated, session: session.key } : authenticated;
    // A 2025-11-25 session speaks the revision it negotiated; the header must agree with it.
    const { revision, classified } = readRequest(request.headers, message, session?.revision);
    // Shared by the decision's audit event and the origin assertion.
    const txn = newTransactionId();
    const context: RouteContext = { env, config, principal, revision, txn, ...(session ? { originSession: session.originSessionId } : {}), callerRegion: () => locationHintFor(request.cf as RequestRegion | undefined), keyRing: () => requireKeyRing(config), waitUntil: call.waitUntil };
    const plan = await planRoute(context, classified);
    const forwardAndRelay = async (): Promise<Response> => {
      // A follow-up spent its DPoP proof while it was authorized (authorizeFollowUp); every other call spends it here, before forwarding.
      if (classified.route !== "follow-up") await spendProof(env, principal);
      const forwardedBody = JSON.stringify(plan.message.raw);
      const headers = withOriginSessionId(
        originRequestHeaders(request.headers, {
          version: revision.version,
          routing: routingHeadersFor(request.headers, plan.message, revision.module, plan.taskFollowUp ?? false),
          // The handle reaches the origin only in the documented compatibility mode; the assertion always does.
          handle: config.forwardTaskHandleHeader ? plan.handle : undefined,
        }),
        session,
      );
      headers.set(ORIGIN_ASSERTION_HEADER, await signOriginAssertion({
        ...plan.asserted,
        keyRing: await requireKeyRing(config),
        issuer: config.issuer,
        audience: config.handleAudience,
        ttlSeconds: config.originAssertionTtlSeconds,
        principal,
        txn,
        body: new TextEncoder().encode(forwardedBody),
      }));
      const forwarded = await forwardToOrigin(config.originUrl, { method: "POST", headers, body: forwardedBody });
      const initialize = message.kind === "request" && message.method === "initialize" ? { requestedRevision: revision.version, keyRing: await requireKeyRing(config) } : undefined;
      const origin = await withClientSessionId(forwarded, { inbound: session, principal, initialize });
      return relayOriginResponse(origin, plan.mapResponse, requestId, await eventIdsFor(config, principal));
    };
    // A reserved creation slot is given back when the call yields no task.
    return await (plan.slot ? plan.slot.settle(forwardAndRelay(), context.waitUntil) : forwardAndRelay());
  } catch (error) {
    if (error instanceof Refusal) return refusalResponse(error, requestId ?? error.requestId, config);
    throw error;
  }
}

const JSON_CONTENT_TYPE = /^application\/json\b/i;

/** The session named by Mcp-Session-Id, opened and bound to the caller (404 for anyone else's). */
async function openSessionOf(request: Request, config: Config, principal: Principal, env: WorkerEnv): Promise<BoundSession | undefined> {
  const sealed = request.headers.get(SESSION_ID_HEADER);
  if (sealed === null) return undefined;
  return openClientSession(sealed, principal, await requireKeyRing(config), env);
}

/** Mcp-Session-Id toward the origin: the origin's own id of the opened session, or none. */
function withOriginSessionId(headers: Headers, session: BoundSession | undefined): Headers {
  if (session) headers.set(SESSION_ID_HEADER, session.originSessionId);
  else headers.delete(SESSION_ID_HEADER);
  return headers;
}

/**
 * GET /mcp[/<origin>] (server-initiated SSE stream) and DELETE (end session): authenticated
 * pass-through with rewriting. No body: the revision is the header's (or the session's), and no
 * routing header is forwarded.
 */
export async function handleMcpStream(call: McpCall): Promise<Response> {
  const { request, env } = call;
  const config = configForMcpCall(env, call.originName);
  try {
    const authenticated = behindOrigin(await authenticateCaller(request, config, env), config);
    await spendProof(env, authenticated);
    const session = await openSessionOf(request, config, authenticated, env);
    const principal: Principal = session ? { ...authenticated, session: session.key } : authenticated;
    const decision = decideRevision({ header: request.headers.get(PROTOCOL_VERSION_HEADER) ?? undefined, metaVersion: undefined, paramsProtocolVersion: undefined, method: undefined, sessionRevision: session?.revision });
    if (!decision.ok) throw new Refusal("header_mismatch", `${decision.signal} ${decision.claimed} vs ${decision.decided}`);
    const eventIds = await eventIdsFor(config, principal);
    const sealedLastEventId = request.headers.get("last-event-id") ?? undefined;
    // A Last-Event-ID this authority did not issue to this caller is dropped: the origin starts a fresh stream.
    const lastEventId = sealedLastEventId !== undefined && eventIds ? await eventIds.open(sealedLastEventId) : undefined;
    const forwarded = await forwardToOrigin(config.originUrl, { method: request.method, headers: withOriginSessionId(streamRequestHeaders(request.headers, decision.version, lastEventId), session) });
    if (request.method === "DELETE" && session && forwarded.ok) {
      // Handles that policy bound to this session die with it, before the client hears it ended.
      await onEveryShard(env, principal.tenant, (ledger) => ledger.revokeSessionHandles(principal.tenant, session.key, `session:${principal.subject}`));
    }
    const origin = await withClientSessionId(forwarded, { inbound: session, principal });
    const mapper = taskIdMapperFor({ env, config, principal, waitUntil: call.waitUntil });
    return relayOriginResponse(origin, (m) => rewriteOutboundMessage(m, { requestId: undefined, requestMethod: undefined, mapper, module: decision.module }), null, eventIds);
  } catch (error) {
    if (error instanceof Refusal) return refusalResponse(error, null, config);
    throw error;
  }
}
