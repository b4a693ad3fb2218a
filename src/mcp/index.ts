/** JSON-RPC envelope, the protocol revisions, classification and task-id rewriting (JSON and SSE). */
export * from "./envelope.js";
export * from "./revisions/index.js";
export * from "./classify.js";
export * from "./headers.js";
export { rewriteOutboundMessage, type TaskIdMapper, type OutboundContext } from "./rewrite.js";
export { rewriteSseStream, serializeSseEvent, MAX_SSE_EVENT_CHARS } from "./sse.js";
