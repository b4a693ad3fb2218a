import { Refusal } from "../errors.js";
import { isObject, rpcError, type JsonObject, type RequestId } from "../mcp/envelope.js";
import { rewriteSseStream } from "../mcp/sse.js";
import type { EventIdSealer } from "./event-ids.js";
import { clientResponseHeaders } from "./headers.js";
import { readBoundedMessage } from "./read-bounded.js";

export type MessageRewriter = (message: JsonObject) => Promise<JsonObject | null>;

/** Largest JSON (non-streamed) response read from the origin. */
const MAX_ORIGIN_JSON_BYTES = 16 * 1024 * 1024;

const UTF8 = new TextDecoder();

/** The origin's whole body as text; a connection lost mid-body or an oversized body is an invalid response. */
async function readOriginText(origin: Response): Promise<string> {
  if (!origin.body) return "";
  let read;
  try {
    read = await readBoundedMessage(origin, MAX_ORIGIN_JSON_BYTES);
  } catch (error) {
    throw new Refusal("origin_invalid_response", `origin body cut off: ${(error as Error).message}`);
  }
  if ("tooLarge" in read) throw new Refusal("origin_invalid_response", "origin JSON response too large");
  return UTF8.decode(read.bytes);
}

/**
 * Turns the origin's response into the client's: JSON bodies are rewritten whole, SSE streams
 * event by event as they arrive. Anything else is not relayed as is (it could name origin task
 * ids): an empty body passes with its status; a non-MCP error page becomes a JSON-RPC error with
 * the origin's status; a success that is neither JSON nor SSE, or a redirect, is refused.
 */
export async function relayOriginResponse(
  origin: Response,
  rewrite: MessageRewriter,
  requestId: RequestId | null = null,
  eventIds?: EventIdSealer,
): Promise<Response> {
  const headers = clientResponseHeaders(origin.headers);
  const contentType = origin.headers.get("content-type") ?? "";
  if (origin.status >= 300 && origin.status < 400) {
    await origin.body?.cancel();
    throw new Refusal("origin_invalid_response", `origin redirected (${origin.status})`);
  }
  if (origin.body && contentType.startsWith("text/event-stream")) {
    return new Response(origin.body.pipeThrough(rewriteSseStream(answerRefusalsInStream(rewrite), eventIds && ((id) => eventIds.seal(id)))), { status: origin.status, headers });
  }
  const text = await readOriginText(origin);
  if (contentType.startsWith("application/json") && text.length > 0) {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      throw new Refusal("origin_invalid_response", "origin sent invalid JSON");
    }
    if (!isObject(message)) throw new Refusal("origin_invalid_response", "origin sent a JSON batch or non-object");
    const rewritten = await rewrite(message);
    if (rewritten === null) throw new Refusal("origin_invalid_response", "origin response concerned a task the caller does not own");
    return new Response(JSON.stringify(rewritten), { status: origin.status, headers });
  }
  if (text.length === 0) {
    // 202 Accepted and error statuses may be empty; a 200 that promises JSON and sends nothing is broken.
    if (origin.status === 200 && contentType.startsWith("application/json")) throw new Refusal("origin_invalid_response", "empty JSON body");
    return new Response(null, { status: origin.status, headers });
  }
  if (origin.ok) throw new Refusal("origin_invalid_response", `unexpected content-type ${contentType}`);
  headers.set("content-type", "application/json");
  const error = rpcError(requestId, -32603, `The origin MCP server answered HTTP ${origin.status}`);
  return new Response(JSON.stringify(error), { status: origin.status, headers });
}

/**
 * Inside an SSE stream the HTTP status is already sent, so a refusal while rewriting a response
 * (e.g. the ledger could not record a new handle) becomes that response's JSON-RPC error event.
 * Other failures error the stream: nothing unrewritten is ever passed on.
 */
function answerRefusalsInStream(rewrite: MessageRewriter): MessageRewriter {
  return async (message) => {
    try {
      return await rewrite(message);
    } catch (error) {
      const isResponse = "id" in message && ("result" in message || "error" in message);
      if (error instanceof Refusal && isResponse) return rpcError(message.id as RequestId, error.rpcCode, error.wireMessage);
      throw error;
    }
  };
}
