import { Hono } from "hono";
import { adminRoutes, tokenEndpoints } from "./admin/index.js";
import { devRoutes } from "./auth/dev-routes.js";
import { ConfigError } from "./config.js";
import { consoleRoutes } from "./console/index.js";
import { Refusal } from "./errors.js";
import { handleMcpPost, handleMcpStream, refusalResponse, type AppEnv } from "./gateway/mcp-endpoint.js";
import { wellKnownRoutes } from "./well-known.js";
import { rejectForeignOrigins } from "./gateway/request-origin.js";
import { configForMcpPath, requireKnownOrigin } from "./gateway/mcp-path.js";
import { limitRequestBodies } from "./body-limit.js";

/** Route composition: the MCP endpoint, public metadata, dev issuer and admin API. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", limitRequestBodies);
  app.use("/mcp", rejectForeignOrigins);
  app.use("/mcp/:origin", rejectForeignOrigins, requireKnownOrigin);
  // /mcp serves the default origin; /mcp/<name> each configured origin (src/origins).
  for (const path of ["/mcp", "/mcp/:origin"]) {
    app.post(path, handleMcpPost);
    app.get(path, handleMcpStream);
    app.delete(path, handleMcpStream);
    app.all(path, (c) => refusalResponse(new Refusal("method_not_allowed"), null, configForMcpPath(c)));
  }
  app.route("/.well-known", wellKnownRoutes);
  app.route("/dev", devRoutes);
  app.route("/admin", adminRoutes);
  app.route("/console", consoleRoutes);
  app.route("/", tokenEndpoints);
  app.notFound((c) => c.json({ error: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  app.onError((error, c) => {
    if (error instanceof ConfigError) {
      console.error(`taskward configuration error: ${error.message}`);
      return c.json({ error: "configuration_error", message: "taskward is misconfigured; see the Worker logs" }, 500);
    }
    if (error instanceof Refusal) {
      // Operator and token endpoints speak plain JSON errors; the MCP endpoint speaks JSON-RPC.
      if (/^\/mcp(\/[^/]+)?$/.test(new URL(c.req.url).pathname)) return refusalResponse(error, null, undefined);
      // A tenant-wide operation that some ledger shards failed also says how many, for retrying tools.
      const shards = error.code === "ledger_unavailable" && typeof error.data === "object" ? error.data : {};
      return c.json({ error: error.code, message: error.wireMessage, ...shards }, error.status as 400, error.headers);
    }
    console.error("taskward internal error", error);
    return c.json({ error: "internal_error", message: "Internal error" }, 500);
  });
  return app;
}
