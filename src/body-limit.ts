import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { configFor, type Config } from "./config.js";
import { Refusal } from "./errors.js";
import { refusalResponse, type AppEnv } from "./gateway/mcp-endpoint.js";

/**
 * One limit (MAX_BODY_BYTES) for every request body, applied before any route reads one: a
 * declared Content-Length over it is refused at once, a streamed body as soon as it passes it.
 * 413 with the refusal table's message; JSON-RPC on /mcp, plain JSON elsewhere.
 */
export const limitRequestBodies: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = configFor(c.env);
  return bodyLimit({ maxSize: config.maxBodyBytes, onError: (c) => tooLargeResponse(c.req.raw, config) })(c, next);
};

function tooLargeResponse(request: Request, config: Config): Response {
  const refusal = new Refusal("body_too_large", `over ${config.maxBodyBytes} bytes`);
  if (new URL(request.url).pathname.startsWith("/mcp")) return refusalResponse(refusal, null, config);
  return Response.json({ error: refusal.code, message: refusal.wireMessage }, { status: 413 });
}
