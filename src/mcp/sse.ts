import { createParser, type EventSourceMessage } from "eventsource-parser";
import { isObject, type JsonObject } from "./envelope.js";

/** Longest single SSE event accepted from the origin; a longer one errors the stream. */
export const MAX_SSE_EVENT_CHARS = 4 * 1024 * 1024;

/** What an origin comment becomes: its text is the origin's, so only the fact that one arrived passes. */
const KEEP_ALIVE = ": keep-alive\n\n";

type SseItem = { kind: "event"; event: EventSourceMessage } | { kind: "retry"; retry: number } | { kind: "comment"; comment: string };

export function serializeSseEvent(event: { id?: string | undefined; event?: string | undefined; data: string }): string {
  let out = "";
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  for (const line of event.data.split("\n")) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * A stream that rewrites the JSON-RPC message in each SSE event as it arrives (never buffering
 * the whole stream). `rewrite` returns the message to send, or null to drop the event. Only what
 * taskward can vouch for is passed on: event ids are origin-chosen strings (they may carry origin
 * ids), so each is replaced by `sealEventId`'s opaque form, or removed when there is no sealer;
 * events of a type other than `message` are dropped; comments become a fixed keep-alive comment;
 * retry hints pass.
 */
export function rewriteSseStream(
  rewrite: (message: JsonObject) => Promise<JsonObject | null>,
  sealEventId?: (originId: string) => Promise<string>,
): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const pending: SseItem[] = [];
  const parser = createParser({
    onEvent: (event) => pending.push({ kind: "event", event }),
    onRetry: (retry) => pending.push({ kind: "retry", retry }),
    onComment: (comment) => pending.push({ kind: "comment", comment }),
    onError: () => undefined,
    maxBufferSize: MAX_SSE_EVENT_CHARS,
  });

  async function flushPending(controller: TransformStreamDefaultController<Uint8Array>): Promise<void> {
    while (pending.length > 0) {
      const item = pending.shift()!;
      if (item.kind === "retry") controller.enqueue(encoder.encode(`retry: ${item.retry}\n\n`));
      else if (item.kind === "comment") controller.enqueue(encoder.encode(KEEP_ALIVE));
      else {
        if (item.event.event !== undefined && item.event.event !== "message") continue;
        const text = await rewriteEventData(item.event.data, rewrite);
        if (text === null) continue;
        const id = item.event.id !== undefined && sealEventId ? await sealEventId(item.event.id) : undefined;
        controller.enqueue(encoder.encode(serializeSseEvent({ id, event: item.event.event, data: text })));
      }
    }
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      await flushPending(controller);
    },
    async flush(controller) {
      parser.feed(decoder.decode());
      await flushPending(controller);
    },
  });
}

/** Rewrites one event's data when it is a JSON-RPC message; other data (priming events) passes. */
async function rewriteEventData(data: string, rewrite: (message: JsonObject) => Promise<JsonObject | null>): Promise<string | null> {
  if (data.trim() === "") return data;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    // Not JSON: a task id can't be reliably found in it, so it is not forwarded.
    return null;
  }
  if (!isObject(message)) return null;
  const rewritten = await rewrite(message);
  return rewritten === null ? null : JSON.stringify(rewritten);
}

function jsonObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The JSON-RPC messages of a whole, already read origin answer: the JSON body, or each SSE event's
 * data (events that are not a JSON object are skipped). For answers read to the end, not streams.
 */
export function messagesInAnswer(text: string, contentType: string): JsonObject[] {
  if (!contentType.startsWith("text/event-stream")) {
    const message = jsonObject(text);
    return message ? [message] : [];
  }
  const messages: JsonObject[] = [];
  const parser = createParser({
    onEvent: (event) => {
      const message = jsonObject(event.data);
      if (message) messages.push(message);
    },
  });
  parser.feed(text);
  return messages;
}
