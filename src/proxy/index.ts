/** Forwarding to the origin, response relaying (JSON and streamed SSE), header hygiene. */
export { forwardToOrigin } from "./forward.js";
export { relayOriginResponse, type MessageRewriter } from "./respond.js";
export { originRequestHeaders, clientResponseHeaders } from "./headers.js";
