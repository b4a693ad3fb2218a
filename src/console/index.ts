/** /console: the operator console, one static page that calls the admin API with an operator token. */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../gateway/mcp-endpoint.js";
import { CONSOLE_PAGE } from "./page.js";
import { CONSOLE_SCRIPT } from "./script.js";
import { CONSOLE_STYLE } from "./style.js";

/**
 * Nothing but this origin's own script, style and admin API; no inline code, no framing, no
 * forms posted anywhere. The token travels in an Authorization header, never a cookie, so a
 * cross-site request carries no credential (no CSRF).
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

function serve(c: Context<AppEnv>, body: string, contentType: string): Response {
  return c.body(body, 200, {
    "content-type": contentType,
    "content-security-policy": CONSOLE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-cache",
  });
}

export const consoleRoutes = new Hono<AppEnv>()
  .get("/", (c) => serve(c, CONSOLE_PAGE, "text/html; charset=utf-8"))
  .get("/console.js", (c) => serve(c, CONSOLE_SCRIPT, "text/javascript; charset=utf-8"))
  .get("/console.css", (c) => serve(c, CONSOLE_STYLE, "text/css; charset=utf-8"));
