import type { OriginAssertionClaims } from "./origin-assertion-claims.js";
import { ORIGIN_ASSERTION_HEADER } from "./origin-assertion-claims.js";
import { OriginAssertionError, verifyOriginAssertion, type VerifyOriginAssertionOptions } from "./verify-origin-assertion.js";

export type OriginAssertionVariables = { originAssertion: OriginAssertionClaims };

/** The part of Hono's `Context` the middleware uses, so the package's types do not need hono. */
export interface OriginAssertionContext {
  req: { method: string; header(name: string): string | undefined; arrayBuffer(): Promise<ArrayBuffer> };
  set(key: "originAssertion", value: OriginAssertionClaims): void;
  json(body: unknown, status: 403): Response;
}

/**
 * Hono middleware for an origin behind taskward: every POST must carry a valid
 * `Taskward-Origin-Assertion` for its exact body; the claims are `c.get("originAssertion")`.
 * A missing or bad assertion answers 403 with its stable code.
 */
export function originAssertionMiddleware(options: VerifyOriginAssertionOptions): (c: OriginAssertionContext, next: () => Promise<void>) => Promise<Response | void> {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    try {
      // Hono keeps the bytes read here, so the handler can read the body again.
      const body = new Uint8Array(await c.req.arrayBuffer());
      c.set("originAssertion", await verifyOriginAssertion(c.req.header(ORIGIN_ASSERTION_HEADER), { body }, options));
    } catch (error) {
      const code = error instanceof OriginAssertionError ? error.code : "ERR_ASSERTION_INVALID";
      return c.json({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Forbidden: no valid taskward origin assertion", data: { code } } }, 403);
    }
    return next();
  };
}
