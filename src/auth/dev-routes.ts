import { Hono } from "hono";
import * as z from "../validation.js";
import { configFor } from "../config.js";
import type { AppEnv } from "../gateway/mcp-endpoint.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { mintDevToken } from "./dev-issuer.js";
import { DPOP_HEADER, DpopProofError, verifyDpopProof } from "./dpop.js";
import { mintDevOperatorToken, OPERATOR_ROLES } from "./operators.js";
import { isIdentifier } from "./principal.js";

const identifier = z.string().check(z.refine(isIdentifier, "must be 1-200 characters of A-Z a-z 0-9 . _ : @ | + -"));
const DevTokenBody = z.strictObject({
  tenant: identifier,
  client_id: identifier,
  sub: identifier,
  /** Bind the token to this RFC 7638 SHA-256 thumbprint. */
  jkt: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, "must be a base64url SHA-256 JWK thumbprint"))),
  /** Bind the token to the key of the DPoP proof sent with this request (RFC 9449 §5). */
  dpop: z.optional(z.literal(true)),
});
const DevOperatorTokenBody = z.strictObject({
  sub: identifier,
  roles: z.array(z.enum(OPERATOR_ROLES)).check(z.minLength(1)),
  tenants: z.union([z.literal("*"), z.array(identifier).check(z.minLength(1))]),
});

/** /dev: the development token issuer. Answers 404 unless DEV_MODE is "true". */
export const devRoutes = new Hono<AppEnv>()
  .post("/token", async (c) => {
  const config = configFor(c.env);
  if (!config.devMode) return c.json({ error: "not_found", message: "Not found" }, 404);
  const parsed = DevTokenBody.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    return c.json({ error: "invalid_request", message: `expected {"tenant","client_id","sub"[,"jkt" | "dpop":true]}: ${detail}` }, 400);
  }
  const { dpop, ...request } = parsed.data;
  if (dpop) {
    const proof = c.req.header(DPOP_HEADER);
    if (!proof) return c.json({ error: "invalid_dpop_proof", message: `"dpop": true needs a DPoP proof header` }, 400);
    try {
      request.jkt = (await verifyDpopProof(proof, { method: "POST", url: c.req.url, maxSkewSeconds: config.dpop.maxSkewSeconds })).jkt;
    } catch (error) {
      if (!(error instanceof DpopProofError)) throw error;
      return c.json({ error: "invalid_dpop_proof", message: `${error.code}: ${error.message}` }, 400);
    }
  }
  const keyRing = await signingKeyRing(config);
  if (!keyRing) return c.json({ error: "signing_unavailable", message: "no signing key" }, 503);
  const { token, expiresIn } = await mintDevToken(request, keyRing, config.issuer, config.resource);
  return c.json({ access_token: token, token_type: request.jkt ? "DPoP" : "Bearer", expires_in: expiresIn });
})
  // Operator tokens for the admin API and the console, shaped like an OAuth authorization server's.
  .post("/operator-token", async (c) => {
    const config = configFor(c.env);
    if (!config.devMode) return c.json({ error: "not_found", message: "Not found" }, 404);
    const parsed = DevOperatorTokenBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
      return c.json({ error: "invalid_request", message: `expected {"sub","roles":[${OPERATOR_ROLES.map((r) => `"${r}"`).join("|")}],"tenants":[…] or "*"}: ${detail}` }, 400);
    }
    const keyRing = await signingKeyRing(config);
    if (!keyRing) return c.json({ error: "signing_unavailable", message: "no signing key" }, 503);
    const { token, expiresIn } = await mintDevOperatorToken(parsed.data, keyRing, config);
    return c.json({ access_token: token, token_type: "Bearer", expires_in: expiresIn });
  });
