/**
 * One POST's response: plain JSON, or — as soon as the handler emits a notification (progress,
 * log) and the client accepts it — a text/event-stream carrying those notifications and then
 * the JSON-RPC response. 2026-07-28 has no resumability, so events carry no ids.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject } from "./protocol.js";

export function sseEvent(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

/** Starts an SSE response; no buffering by proxies, no caching. */
export function startEventStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform", "x-accel-buffering": "no", connection: "keep-alive" });
  res.flushHeaders();
}

export class ResponseChannel {
  private streaming = false;
  private finished = false;
  /** Fires when the client goes away before the response is complete. */
  readonly signal: AbortSignal;

  constructor(
    private readonly res: ServerResponse,
    private readonly acceptsEventStream: boolean,
  ) {
    const controller = new AbortController();
    this.signal = controller.signal;
    res.on("close", () => {
      if (!this.finished) controller.abort(new Error("client disconnected"));
    });
  }

  static for(req: IncomingMessage, res: ServerResponse): ResponseChannel {
    const accept = String(req.headers.accept ?? "");
    return new ResponseChannel(res, accept.includes("text/event-stream"));
  }

  /** Sends a notification ahead of the response; dropped when the client only accepts JSON. */
  notify(notification: JsonObject): void {
    if (this.finished || !this.acceptsEventStream || this.signal.aborted) return;
    if (!this.streaming) {
      startEventStream(this.res);
      this.streaming = true;
    }
    this.res.write(sseEvent(notification));
  }

  /** The JSON-RPC response; `status` applies only when no event stream was opened. */
  finish(status: number, body: JsonObject): void {
    if (this.finished) return;
    this.finished = true;
    if (this.streaming) this.res.end(sseEvent(body));
    else sendJson(this.res, status, body);
  }
}
