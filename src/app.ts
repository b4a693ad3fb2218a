import { Hono } from "hono";
import { adminRoutes, tokenEndpoints } from "./admin/index.js";
import { devRoutes } from "./auth/dev-routes.js";
import { ConfigError } from "./config.js";
import { consoleRoutes } from "./console/index.js";
import { Refusal } from "./errors.js";
import { handleMcpPost, handleMcpStream, refusalResponse, type AppEnv } from "./gateway/mcp-endpoint.js";
import { wellKnownRoutes } from "./well-known.js";
import { rejectForeignOrigins } from "./gateway/request-origin.js";
import { configForMcpPath, mcpCallOf, requireKnownOrigin } from "./gateway/mcp-path.js";
import { limitRequestBodies } from "./body-limit.js";

/** Route composition: the MCP endpoint, public metadata, dev issuer and admin API. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", limitRequestBodies);
  app.use("/mcp", rejectForeignOrigins);
  app.use("/mcp/:origin", rejectForeignOrigins, requireKnownOrigin);
  // /mcp serves the default origin; /mcp/<name> each configured origin (src/origins).
  for (const path of ["/mcp", "/mcp/:origin"]) {
    app.post(path, (c) => handleMcpPost(mcpCallOf(c)));
    app.get(path, (c) => handleMcpStream(mcpCallOf(c)));
    app.delete(path, (c) => handleMcpStream(mcpCallOf(c)));
    app.all(path, (c) => refusalResponse(new Refusal("method_not_allowed"), null, configForMcpPath(c)));
  }
  app.route("/.well-known", wellKnownRoutes);
  app.route("/dev", devRoutes);
  app.route("/admin", adminRoutes);
  app.route("/console", consoleRoutes);
  app.route("/", tokenEndpoints);
  app.notFound((c) => c.json({ error: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  // Through Hono, plain JSON errors keep any header a middleware set on the context (c.json).
  app.onError((error, c) => errorResponse(error, c.req.raw, (body, status, headers) => c.json(body, status as 400, headers)));
  return app;
}

type JsonResponder = (body: Record<string, unknown>, status: number, headers?: Record<string, string>) => Response;

/** An exception no handler answered: configuration (500, details only in the logs), a refusal, or an internal error. */
function errorResponse(error: Error, request: Request, json: JsonResponder): Response {
  if (error instanceof ConfigError) {
    console.error(`taskward configuration error: ${error.message}`);
    return json({ error: "configuration_error", message: "taskward is misconfigured; see the Worker logs" }, 500);
  }
  if (error instanceof Refusal) {
    // Operator and token endpoints speak plain JSON errors; the MCP endpoint speaks JSON-RPC.
    if (MCP_PATH.test(new URL(request.url).pathname)) return refusalResponse(error, null, undefined);
    // A tenant-wide operation that some ledger shards failed also says how many, for retrying tools.
    const shards = error.code === "ledger_unavailable" && typeof error.data === "object" ? error.data : {};
    return json({ error: error.code, message: error.wireMessage, ...shards }, error.status, error.headers);
  }
  console.error("taskward internal error", error);
  return json({ error: "internal_error", message: "Internal error" }, 500);
}

const MCP_PATH = /^\/mcp(\/[^/]+)?$/;
