import type { Config } from "../config.js";
import { configForAudience } from "../origins/index.js";
import { isObject, type ClientMessage, type JsonObject } from "../mcp/envelope.js";
import { MCP_METHOD_HEADER, routingHeadersFor } from "../mcp/routing-headers.js";
import { messagesInAnswer } from "../mcp/sse.js";
import { PROTOCOL_VERSION_HEADER, SESSION_ID_HEADER, TASK_HANDLE_HEADER } from "../mcp/headers.js";
import { moduleFor, PROTOCOL_VERSION_META } from "../mcp/revisions/index.js";
import type { KeyRing } from "../handle/keyring.js";
import { ORIGIN_ASSERTION_HEADER, newTransactionId, signOriginAssertion } from "../proxy/origin-assertion.js";
import { readBoundedBytes } from "../proxy/read-bounded.js";
import type { CancelOutcome, InFlightTask } from "../ledger/types.js";

/** Most in-flight tasks one POST /admin/revocations cancels; the answer's cursor resumes the rest. */
export const CANCEL_BATCH_LIMIT = 100;
const CANCEL_TIMEOUT_MS = 10_000;
const MAX_CANCEL_RESPONSE_BYTES = 1024 * 1024;
const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/**
 * The revision's own `tasks/cancel` for one task, as the origin expects it from a client: on the
 * 2025-11-25 session the task was created on (the SDK binds tasks to sessions), or statelessly
 * with the 2026-07-28 extension's headers and `_meta`. Like every forwarded call it carries an
 * origin assertion (op `cancel`, the task, its owner); the task's handle travels in
 * Taskward-Task-Handle only in the compatibility mode.
 */
function cancelRequest(task: InFlightTask, config: Config): { headers: Headers; body: JsonObject } | undefined {
  const module = moduleFor(task.mcp);
  const stateless = module.taskProtocol === "extension";
  if (!stateless && !task.originSession) return undefined;
  const id = `taskward-cancel-${crypto.randomUUID()}`;
  const _meta = { [PROTOCOL_VERSION_META]: task.mcp, "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS_EXTENSION]: {} } } };
  const params: JsonObject = stateless ? { taskId: task.taskId, _meta } : { taskId: task.taskId };
  const body: JsonObject = { jsonrpc: "2.0", id, method: "tasks/cancel", params };
  const headers = new Headers({ "content-type": "application/json", accept: "application/json, text/event-stream", [PROTOCOL_VERSION_HEADER]: task.mcp });
  // The revision's routing headers (Mcp-Method, Mcp-Name, encoded), made the way every forwarded follow-up's are.
  const message: ClientMessage = { kind: "request", id, method: "tasks/cancel", params, raw: body };
  for (const [name, value] of routingHeadersFor(new Headers({ [MCP_METHOD_HEADER]: "tasks/cancel" }), message, module, true)) headers.set(name, value);
  if (!stateless) headers.set(SESSION_ID_HEADER, task.originSession!);
  if (config.forwardTaskHandleHeader) headers.set(TASK_HANDLE_HEADER, task.handle);
  return { headers, body };
}

/** The JSON-RPC response to `id` in a JSON or SSE answer; undefined when there is none (or it is not JSON). */
function responseTo(id: unknown, contentType: string, text: string): JsonObject | undefined {
  return messagesInAnswer(text, contentType).find((message) => message.id === id);
}

/** Sends the cancel for one task and says what came of it; never throws. */
export async function cancelAtOrigin(task: InFlightTask, tenant: string, authority: Config, keyRing: KeyRing): Promise<CancelOutcome> {
  const base = { jti: task.jti, task: task.taskId };
  // Sent to the origin the task's handle was minted for, with that origin's audience.
  const config = task.audience === null ? authority : configForAudience(authority, task.audience);
  if (!config) return { ...base, outcome: "refused", detail: "the task's handle names no configured origin (its aud is unknown here); nothing was sent" };
  const request = cancelRequest(task, config);
  if (!request) return { ...base, outcome: "no_session", detail: "the origin session of this 2025-11-25 task was not recorded" };
  try {
    const body = JSON.stringify(request.body);
    request.headers.set(ORIGIN_ASSERTION_HEADER, await signOriginAssertion({
      keyRing,
      issuer: config.issuer,
      audience: config.handleAudience,
      ttlSeconds: config.originAssertionTtlSeconds,
      principal: { tenant, clientId: task.clientId, subject: task.subject },
      op: "cancel",
      txn: newTransactionId(),
      body: new TextEncoder().encode(body),
      task: task.taskId,
      handleJti: task.handleJti,
    }));
    const response = await fetch(config.originUrl, { method: "POST", headers: request.headers, body, redirect: "manual", signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
    const read = response.body ? await readBoundedBytes(response.body, MAX_CANCEL_RESPONSE_BYTES) : { bytes: new Uint8Array() };
    if ("tooLarge" in read) return { ...base, outcome: "refused", detail: "origin answer too large" };
    const text = new TextDecoder().decode(read.bytes);
    const answer = responseTo(request.body.id, response.headers.get("content-type") ?? "", text);
    if (!answer) return { ...base, outcome: "refused", detail: `origin answered HTTP ${response.status} without a response to the cancel` };
    if (isObject(answer.error)) {
      const message = String(answer.error.message ?? "");
      return { ...base, outcome: /terminal/i.test(message) ? "already_terminal" : "refused", detail: message.slice(0, 300) };
    }
    const result = isObject(answer.result) ? answer.result : {};
    const status = typeof result.status === "string" ? result.status : isObject(result.task) && typeof result.task.status === "string" ? result.task.status : undefined;
    return { ...base, outcome: "cancelled", ...(status ? { status } : {}) };
  } catch (error) {
    return { ...base, outcome: "unreachable", detail: (error as Error).message.slice(0, 300) };
  }
}
