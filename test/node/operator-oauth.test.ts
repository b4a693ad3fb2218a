import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticateOperator, requireGrant } from "../../src/auth/operators.js";
import { parseConfig, type Config, type WorkerEnv } from "../../src/config.js";

/**
 * Operator tokens from a real OAuth authorization server's JWKS (served on loopback), verified by
 * the same code the admin API runs; the dev issuer is off, as in production.
 */
const ISSUER = "https://idp.example.test";
let server: Server;
let config: Config;
let key: CryptoKey;
let otherKey: CryptoKey;

async function token(claims: Record<string, unknown>, options: { aud?: string; iss?: string; signWith?: CryptoKey } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: "idp-1", typ: "at+jwt" })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? "https://taskward.example.test/admin")
    .setSubject("sre-ana")
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(options.signWith ?? key);
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  key = pair.privateKey;
  otherKey = (await generateKeyPair("ES256")).privateKey;
  const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "ES256", use: "sig" }] };
  server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  config = parseConfig({ TASKWARD_ISSUER: "https://taskward.example.test", ORIGIN_URL: "https://origin.example.test/mcp", OAUTH_ISSUERS: ISSUER, OAUTH_JWKS_URL: jwksUrl, DEV_MODE: "false", ADMIN_TOKEN: "glass" } as unknown as WorkerEnv);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("operator tokens from an OAuth authorization server", () => {
  it("reads roles (roles claim and scope), tenants and the operator id", async () => {
    const operator = await authenticateOperator(`Bearer ${await token({ roles: ["taskward:read"], scope: "openid taskward:revoke", taskward_tenants: ["acme", "globex"] })}`, config);
    expect(operator).toEqual({ id: `${ISSUER}#sre-ana`, roles: ["taskward:read", "taskward:revoke"], tenants: ["acme", "globex"], breakGlass: false });
    expect(() => requireGrant(operator, "taskward:revoke", "acme")).not.toThrow();
    expect(() => requireGrant(operator, "taskward:audit", "acme")).toThrow(expect.objectContaining({ code: "operator_role_missing", status: 403 }));
    expect(() => requireGrant(operator, "taskward:read", "initech")).toThrow(expect.objectContaining({ code: "operator_tenant_forbidden", wireMessage: "This operator is not granted tenant initech" }));
  });

  it("refuses a caller token (audience /mcp), another issuer, another key, and a token without a tenant grant", async () => {
    const refusals = [
      await token({ roles: ["taskward:read"], taskward_tenants: "*" }, { aud: "https://taskward.example.test/mcp" }),
      await token({ roles: ["taskward:read"], taskward_tenants: "*" }, { iss: "https://evil.example.test" }),
      await token({ roles: ["taskward:read"], taskward_tenants: "*" }, { signWith: otherKey }),
      await token({ roles: ["taskward:read"] }),
      await token({ roles: ["taskward:read"], taskward_tenants: ["bad tenant id"] }),
    ];
    for (const refused of refusals) {
      await expect(authenticateOperator(`Bearer ${refused}`, config)).rejects.toMatchObject({ code: "admin_unauthorized", status: 401 });
    }
  });

  it("ADMIN_TOKEN is the break-glass operator; nothing else is", async () => {
    expect(await authenticateOperator("Bearer glass", config)).toMatchObject({ id: "break-glass", breakGlass: true, tenants: "*" });
    await expect(authenticateOperator("Bearer glas", config)).rejects.toMatchObject({ code: "admin_unauthorized" });
    await expect(authenticateOperator(undefined, config)).rejects.toMatchObject({ code: "admin_unauthorized" });
  });
});
