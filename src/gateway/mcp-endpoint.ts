import type { Context } from "hono";
import { authenticate, bearerChallenge } from "../auth/authenticate.js";
import type { Principal } from "../auth/principal.js";
import { configFor, type Config, type WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import type { KeyRing } from "../handle/keyring.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { openCursor } from "../handle/cursor.js";
import { classify, type Classified } from "../mcp/classify.js";
import { isObject, parseClientMessage, rpcError, type JsonObject, type RequestId } from "../mcp/envelope.js";
import { MCP_NAME_HEADER, PROTOCOL_VERSION_HEADER } from "../mcp/headers.js";
import { rewriteOutboundMessage } from "../mcp/rewrite.js";
import { forwardToOrigin } from "../proxy/forward.js";
import { originRequestHeaders } from "../proxy/headers.js";
import { relayOriginResponse } from "../proxy/respond.js";
import { readBoundedBody } from "./read-body.js";
import { taskIdMapperFor, type MapperScope } from "./task-id-mapper.js";
import { authorizeFollowUp, authorizeSubscriptions, rateLimitRefusal } from "./authorize-follow-up.js";
import { applyTaskSupportPolicy, policyFor } from "../policy/index.js";
import { ledgerFor } from "../ledger/ledger-client.js";
import { checkHeadersAgreeWithBody, encodeHeaderValue } from "../mcp/routing-headers.js";
import { taskProtocolOf } from "../mcp/revision.js";
import { verifyOwnHandle } from "../handle/verify-cached.js";
import { rewriteInboundRelatedTask } from "./inbound-related-task.js";

export type AppEnv = { Bindings: WorkerEnv };

/** A refusal as the client sees it: JSON-RPC error body, HTTP status, WWW-Authenticate on 401. */
export function refusalResponse(refusal: Refusal, id: RequestId | null, config: Config | undefined): Response {
  const headers = new Headers({ "content-type": "application/json", ...refusal.headers });
  if (refusal.status === 401 && config) {
    headers.set("www-authenticate", bearerChallenge(config, refusal.code === "invalid_credentials" ? "invalid_token" : undefined));
  }
  return new Response(JSON.stringify(rpcError(id, refusal.rpcCode, refusal.wireMessage, refusal.data)), { status: refusal.status, headers });
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

/** POST /mcp: auth → classify → handle/ledger → forward → rewrite. */
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
    const classified = classify(message, c.req.header(PROTOCOL_VERSION_HEADER));
    checkHeadersAgreeWithBody(c.req.raw.headers, message, classified.protocol);
    return await dispatch(c, config, principal, classified);
  } catch (error) {
    if (error instanceof Refusal) return refusalResponse(error, requestId ?? error.requestId, config);
    throw error;
  }
}

async function dispatch(c: Context<AppEnv>, config: Config, principal: Principal, classified: Classified): Promise<Response> {
  const scope: MapperScope = { env: c.env, config, principal, waitUntil: (p) => c.executionCtx.waitUntil(p) };
  const message = classified.message;
  const raw: JsonObject = message.raw;
  const extension = classified.protocol === "extension";
  let handleHeader: string | undefined;
  const requestMethod = message.kind === "request" ? message.method : undefined;

  switch (classified.route) {
    case "follow-up": {
      const keyRing = await requireKeyRing(config);
      if (extension && !declaresTasksExtension(classified.message.params)) {
        await requireLegacyHandle(classified.handle, keyRing, config);
      }
      const { claims, status } = await authorizeFollowUp(classified.handle, classified.op, classified.revision, principal, keyRing, config, c.env);
      (raw.params as JsonObject).taskId = claims.task;
      scope.followUp = { handle: classified.handle, claims, status };
      handleHeader = classified.handle;
      break;
    }
    case "listen": {
      if (!declaresTasksExtension(classified.message.params)) throw missingTasksCapability();
      const keyRing = await requireKeyRing(config);
      scope.subscriptions = await authorizeSubscriptions(classified.handles, classified.revision, principal, keyRing, config, c.env);
      ((raw.params as JsonObject).notifications as JsonObject).taskIds = scope.subscriptions.map((s) => s.claims.task);
      // The origin can re-verify every subscribed task: their handles travel comma-separated.
      if (scope.subscriptions.length > 0) handleHeader = scope.subscriptions.map((s) => s.handle).join(", ");
      break;
    }
    case "list": {
      const keyRing = await requireKeyRing(config);
      scope.listing = { keyRing };
      const params = classified.message.params;
      if (params && params.cursor !== undefined) {
        const sealed = params.cursor;
        const origin = typeof sealed === "string" ? await openCursor(sealed, principal, keyRing, config.issuer) : undefined;
        if (origin === undefined) throw new Refusal("invalid_params", "cursor", "Invalid params: cursor is not one this authority issued to you");
        params.cursor = origin;
        scope.listing.inboundCursor = { origin, sealed: sealed as string };
      }
      break;
    }
    case "create-candidate": {
      const mayCreateTask = enforceTaskSupport(classified, config);
      if (mayCreateTask) await enforceCreationRate(c.env, principal);
      scope.creation = { tool: classified.tool, revision: classified.revision, protocol: classified.protocol, keyRing: await requireKeyRing(config), originSession: c.req.header("mcp-session-id") };
      break;
    }
    case "passthrough": {
      if (classified.message.kind === "request" && classified.message.method === "initialize") withoutClientHostedTasks(classified.message.params);
      if (classified.message.kind !== "request") await rewriteInboundRelatedTask(raw, principal, config);
      break;
    }
  }

  const forwardHeaders = originRequestHeaders(c.req.raw.headers, handleHeader, extension);
  // 2026-07-28: Mcp-Name always equals the forwarded params.taskId (set even if the client omitted it).
  if (extension && scope.followUp) forwardHeaders.set(MCP_NAME_HEADER, encodeHeaderValue(scope.followUp.claims.task));
  const origin = await forwardToOrigin(config.originUrl, { method: "POST", headers: forwardHeaders, body: JSON.stringify(raw) });
  const mapper = taskIdMapperFor(scope);
  const requestId = message.kind === "notification" ? undefined : message.id;
  return relayOriginResponse(origin, async (m) => {
    if (requestMethod === "tools/list" && m.id === requestId && isObject(m.result)) {
      applyTaskSupportPolicy(m.result, config.policy);
    }
    return rewriteOutboundMessage(m, { requestId, requestMethod, mapper });
  }, requestId ?? null);
}

/**
 * Per-tool task support, enforced before the origin sees the call. 2025-11-25: the client asks
 * for a task with `params.task`, so a forbidden or missing request is refused here. 2026-07-28:
 * the server decides, so a forbidden tool reaches the origin as from a client without the tasks
 * extension, and a required one without the extension is the capability error.
 * Returns whether the call may become a task.
 */
function enforceTaskSupport(classified: Extract<Classified, { route: "create-candidate" }>, config: Config): boolean {
  const support = policyFor(config.policy, classified.tool).taskSupport;
  const params = classified.message.params ?? {};
  if (classified.protocol === "utility") {
    const asTask = params.task !== undefined;
    if (asTask && support === "forbidden") throw new Refusal("task_support_forbidden", classified.tool, `Policy forbids running tool ${classified.tool} as a task`);
    if (!asTask && support === "required") throw new Refusal("task_support_required", classified.tool, `Policy requires running tool ${classified.tool} as a task (send params.task)`);
    return asTask;
  }
  const declared = declaresTasksExtension(params);
  if (declared && support === "forbidden") {
    const capabilities = (params._meta as JsonObject)[CLIENT_CAPABILITIES_META] as JsonObject;
    delete (capabilities.extensions as JsonObject)[TASKS_EXTENSION];
    return false;
  }
  if (!declared && support === "required") throw missingTasksCapability();
  return declared;
}

async function enforceCreationRate(env: WorkerEnv, principal: Principal): Promise<void> {
  const retryAfter = await ledgerFor(env.TASK_LEDGER, principal.tenant).creationRetryAfter(principal.tenant, principal);
  if (retryAfter > 0) throw rateLimitRefusal(retryAfter);
}

const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
const CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities";

/** 2026-07-28: did this very request declare the tasks extension? (Never inferred from earlier requests.) */
function declaresTasksExtension(params: JsonObject | undefined): boolean {
  const capabilities = isObject(params?._meta) ? params._meta[CLIENT_CAPABILITIES_META] : undefined;
  return isObject(capabilities) && isObject(capabilities.extensions) && TASKS_EXTENSION in capabilities.extensions;
}

function missingTasksCapability(): Refusal {
  return new Refusal("missing_client_capability", "tasks extension not declared", "Missing required client capability", {
    requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  });
}

/**
 * A client that did not declare the extension may still poll or cancel a task it created under
 * 2025-11-25 (dual serving, SEP-2663); anything else is the capability error, decided before
 * the handle is looked up so a non-handle id gets -32021, not -32602.
 */
async function requireLegacyHandle(handle: string, keyRing: KeyRing, config: Config): Promise<void> {
  // Cached: authorizeFollowUp verifies the same handle right after, and then finds it remembered.
  const claims = await verifyOwnHandle(handle, keyRing, config.issuer, config.handleAudience).catch(() => undefined);
  if (!claims || taskProtocolOf(claims.mcp) !== "utility") throw missingTasksCapability();
}

/** GET /mcp (server-initiated SSE stream) and DELETE /mcp (end session): authenticated pass-through with rewriting. */
export async function handleMcpStream(c: Context<AppEnv>): Promise<Response> {
  const config = configFor(c.env);
  try {
    const principal = await authenticate(c.req.header("authorization"), config, c.env);
    const extension = taskProtocolOf(c.req.header(PROTOCOL_VERSION_HEADER) ?? "") === "extension";
    const origin = await forwardToOrigin(config.originUrl, { method: c.req.method, headers: originRequestHeaders(c.req.raw.headers, undefined, extension) });
    const mapper = taskIdMapperFor({ env: c.env, config, principal, waitUntil: (p) => c.executionCtx.waitUntil(p) });
    return relayOriginResponse(origin, (m) => rewriteOutboundMessage(m, { requestId: undefined, requestMethod: undefined, mapper }));
  } catch (error) {
    if (error instanceof Refusal) return refusalResponse(error, null, config);
    throw error;
  }
}

/**
 * Client-hosted tasks (task-augmented sampling/elicitation) carry client-minted ids that flow the
 * other way; taskward does not broker them, so the client's offer is removed from `initialize`
 * and the origin never creates them.
 */
function withoutClientHostedTasks(params: JsonObject | undefined): void {
  const capabilities = params?.capabilities;
  const requests = isObject(capabilities) && isObject(capabilities.tasks) ? capabilities.tasks.requests : undefined;
  if (!isObject(requests)) return;
  delete requests.sampling;
  delete requests.elicitation;
}
