/**
 * OAuth access tokens from a configured authorization server (OAUTH_ISSUERS, OAUTH_JWKS_URL):
 * issuer, audience, algorithm, expiry and the principal claims are all checked, and API keys
 * and dev tokens keep working beside OAuth. The AS's JWKS is served by the fault origin.
 */
import { SignJWT, importJWK } from "jose";
import { describe, expect, inject, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { adminFetch, devToken } from "../support/mcp-client.js";
import { baseEnv, callApp, mcpRequest, messagesOf } from "../adversarial/fault-support.js";

const AS = "https://as.test";
const RESOURCE = "https://taskward.test/mcp";

let env: WorkerEnv | undefined;
/** The test env with OAuth configured, talking to the fault origin's plain JSON mode. */
function oauthEnv(): WorkerEnv {
  env ??= { ...baseEnv, ORIGINS: undefined, ORIGIN_URL: `${inject("faultOriginUrl")}/ok/oauth`, OAUTH_ISSUERS: `https://other-as.test, ${AS}`, OAUTH_JWKS_URL: `${inject("faultOriginUrl")}/__oauth/jwks.json` } as WorkerEnv;
  return env;
}

async function accessToken(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const key = await importJWK(JSON.parse(inject("oauthPrivateJwk")), "ES256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: "oauth-co", client_id: "app", scope: "mcp", ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "as-1", typ: "at+jwt", ...header })
    .setIssuer((claims.iss as string | undefined) ?? AS)
    .setAudience((claims.aud as string | undefined) ?? RESOURCE)
    .setSubject((claims.sub as string | undefined) ?? "user-1")
    .setIssuedAt((claims.iat as number | undefined) ?? now)
    .setExpirationTime((claims.exp as number | undefined) ?? now + 300)
    .sign(key);
}

async function ping(token: string) {
  const id = `oauth-${crypto.randomUUID()}`;
  const outcome = await callApp(oauthEnv(), mcpRequest(token, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "x", arguments: {}, task: { ttl: 60_000 } } }));
  return { status: outcome.status, message: messagesOf(outcome)[0] };
}

describe("OAuth access tokens", () => {
  it("a token of a configured issuer, for this resource, is a principal", async () => {
    const { status, message } = await ping(await accessToken());
    expect(status).toBe(200);
    const handle = message?.result?.task?.taskId as string;
    const payload = JSON.parse(atob(handle.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload).toMatchObject({ tenant: "oauth-co", client_id: "app", sub: "user-1" });
  });

  for (const [label, claims, header] of [
    ["another issuer", { iss: "https://evil-as.test" }, {}],
    ["another audience", { aud: "https://elsewhere.test/mcp" }, {}],
    ["an expired token", { exp: Math.floor(Date.now() / 1000) - 60, iat: Math.floor(Date.now() / 1000) - 120 }, {}],
    ["no tenant claim", { tenant: undefined }, {}],
    ["an unknown kid", {}, { kid: "as-2" }],
  ] as Array<[string, Record<string, unknown>, Record<string, unknown>]>) {
    it(`${label}: 401 invalid_token`, async () => {
      const { status, message } = await ping(await accessToken(claims, header));
      expect(status).toBe(401);
      expect(message?.error?.code).toBe(-32001);
    });
  }

  it("a token without exp or without iat: 401", async () => {
    const key = await importJWK(JSON.parse(inject("oauthPrivateJwk")), "ES256");
    const now = Math.floor(Date.now() / 1000);
    const base = () => new SignJWT({ tenant: "oauth-co", client_id: "app" }).setProtectedHeader({ alg: "ES256", kid: "as-1", typ: "at+jwt" }).setIssuer(AS).setAudience(RESOURCE).setSubject("user-1");
    expect((await ping(await base().setIssuedAt(now).sign(key))).status).toBe(401);
    expect((await ping(await base().setExpirationTime(now + 300).sign(key))).status).toBe(401);
  });

  it("a token signed with another key under the AS's kid: 401", async () => {
    const { privateKey } = await (await import("jose")).generateKeyPair("ES256");
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tenant: "oauth-co", client_id: "app" }).setProtectedHeader({ alg: "ES256", kid: "as-1" }).setIssuer(AS).setAudience(RESOURCE).setSubject("user-1").setIssuedAt(now).setExpirationTime(now + 300).sign(privateKey);
    expect((await ping(forged)).status).toBe(401);
  });

  it("API keys and dev tokens still authenticate when OAuth is configured", async () => {
    const created = await adminFetch("/tenants/oauth-co/api-keys", { method: "POST", body: JSON.stringify({ client_id: "m2m", sub: "svc" }) });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    expect((await ping(key)).status).toBe(200);
    expect((await ping(await devToken({ tenant: "oauth-co", client_id: "dev", sub: "d" }))).status).toBe(200);
  });
});
