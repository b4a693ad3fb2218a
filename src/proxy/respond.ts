import { Refusal } from "../errors.js";
import { isObject, rpcError, type JsonObject, type RequestId } from "../mcp/envelope.js";
import { rewriteSseStream } from "../mcp/sse.js";
import { clientResponseHeaders } from "./headers.js";

export type MessageRewriter = (message: JsonObject) => Promise<JsonObject | null>;

/** Largest JSON (non-streamed) response read from the origin. */
const MAX_ORIGIN_JSON_BYTES = 16 * 1024 * 1024;

/**
 * Turns the origin's response into the client's: JSON bodies are rewritten whole, SSE streams
 * event by event as they arrive; other bodies pass unchanged.
 */
export async function relayOriginResponse(origin: Response, rewrite: MessageRewriter): Promise<Response> {
  const headers = clientResponseHeaders(origin.headers);
  const contentType = origin.headers.get("content-type") ?? "";
  if (origin.body && contentType.startsWith("text/event-stream")) {
    return new Response(origin.body.pipeThrough(rewriteSseStream(answerRefusalsInStream(rewrite))), { status: origin.status, headers });
  }
  if (origin.body && contentType.startsWith("application/json")) {
    const text = await origin.text();
    if (text.length > MAX_ORIGIN_JSON_BYTES) throw new Refusal("origin_invalid_response", "origin JSON response too large");
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
  // No task ids can hide in an empty body (202 Accepted) or a non-MCP error page; anything else is refused.
  const text = origin.body ? await origin.text() : "";
  if (text.length > 0 && origin.ok) throw new Refusal("origin_invalid_response", `unexpected content-type ${contentType}`);
  return new Response(text.length > 0 ? text : null, { status: origin.status, headers });
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
