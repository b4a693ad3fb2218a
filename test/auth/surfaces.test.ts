import { callApp } from "../adversarial/fault-support.js";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { ConfigError, parseConfig, type WorkerEnv } from "../../src/config.js";
import { env } from "cloudflare:workers";
import { ALICE, McpSession, devToken, readReply, worker } from "../support/mcp-client.js";

describe("/.well-known", () => {
  it("serves the public handle keys, without private parts", async () => {
    const response = await worker().fetch("https://taskward.test/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Array<Record<string, unknown>> };
    const configured = JSON.parse(inject("signingJwks")).keys[0];
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: configured.kid, alg: "EdDSA", x: configured.x, use: "sig" });
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });

  it("serves RFC 9728 protected-resource metadata naming the dev issuer in dev mode", async () => {
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
      const metadata = await (await worker().fetch(`https://taskward.test${path}`)).json();
      expect(metadata).toMatchObject({
        resource: "https://taskward.test/mcp",
        authorization_servers: ["https://taskward.test/dev"],
        bearer_methods_supported: ["header"],
      });
    }
  });
});

describe("/dev/token", () => {
  it("explains a bad request", async () => {
    const response = await worker().fetch("https://taskward.test/dev/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant: "acme", client_id: "has space" }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { message: string };
    expect(body.message).toContain("client_id");
    expect(body.message).toContain("sub");
  });
});

describe("DEV_MODE off", () => {
  it("/dev/token answers 404 and dev tokens are refused", async () => {
    const production = { ...(env as unknown as WorkerEnv), DEV_MODE: "false" };
    const call = (request: Request) => callApp(production, request);
    const minted = await call(new Request("https://taskward.test/dev/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ALICE) }));
    expect(minted.status).toBe(404);
    const token = await devToken(ALICE);
    const refused = await call(
      new Request("https://taskward.test/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      }),
    );
    expect(refused.status).toBe(401);
    const metadata = JSON.parse((await call(new Request("https://taskward.test/.well-known/oauth-protected-resource"))).text) as { authorization_servers: string[] };
    expect(metadata.authorization_servers).toEqual([]);
  });
});

describe("parseConfig", () => {
  const base = {
    TASKWARD_ISSUER: "https://tw.example",
    ORIGIN_URL: "https://origin.example/mcp",
    DEV_MODE: "false",
  } as unknown as WorkerEnv;

  it("derives the resource and handle audience", () => {
    const config = parseConfig(base);
    expect(config.resource).toBe("https://tw.example/mcp");
    expect(config.handleAudience).toBe("https://origin.example/mcp");
    expect(config.devMode).toBe(false);
    expect(config.maxTaskTtlSeconds).toBe(86_400);
  });

  it("fails loudly on bad values", () => {
    expect(() => parseConfig({ ...base, ORIGIN_URL: "not a url" })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, TASKWARD_ISSUER: "" })).toThrow(/TASKWARD_ISSUER is required/);
    expect(() => parseConfig({ ...base, DEV_MODE: "yes" })).toThrow(/DEV_MODE must be "true" or "false"/);
    expect(() => parseConfig({ ...base, MAX_TASK_TTL_SECONDS: "-5" })).toThrow(/positive integer/);
    expect(() => parseConfig({ ...base, OAUTH_ISSUERS: "https://as.example" })).toThrow(/OAUTH_JWKS_URL is required/);
  });
});

describe("DNS-rebinding defence on /mcp", () => {
  async function postWith(headers: Record<string, string>, url = "https://taskward.test/mcp") {
    return worker().fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await devToken(ALICE)}`, ...headers },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
  }

  it("refuses a foreign Origin with 403 before authentication", async () => {
    const response = await postWith({ origin: "http://evil.example.com" });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: -32000, message: expect.stringContaining("Origin") } });
  });

  it("accepts the issuer's own origin and requests without Origin", async () => {
    const session = await McpSession.open({ tenant: "rebinding", client_id: "c", sub: "s" });
    for (const origin of [{ origin: "https://taskward.test" }, {}] as Array<Record<string, string>>) {
      const id = `origin-ok-${crypto.randomUUID()}`;
      const response = await worker().fetch("https://taskward.test/mcp", { method: "POST", headers: { ...session.headers(), ...origin }, body: JSON.stringify({ jsonrpc: "2.0", id, method: "ping" }) });
      expect(response.status, JSON.stringify(origin)).toBe(200);
      expect((await readReply(response, id)).reply).toEqual({ jsonrpc: "2.0", id, result: {} });
    }
  });

  it("on a loopback issuer, refuses a non-loopback Host and accepts loopback Origins", async () => {
    const loopback = { ...(env as unknown as WorkerEnv), TASKWARD_ISSUER: "http://127.0.0.1:8787" };
    const call = async (url: string, headers: Record<string, string>) =>
      (await callApp(loopback, new Request(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" }))).status;
    expect(await call("http://evil.example.com/mcp", {})).toBe(403);
    expect(await call("http://localhost:8787/mcp", { origin: "http://evil.example.com" })).toBe(403);
    // Past the origin check, the missing credential is what refuses these.
    expect(await call("http://localhost:8787/mcp", { origin: "http://localhost:5173" })).toBe(401);
    expect(await call("http://127.0.0.1:8787/mcp", {})).toBe(401);
  });
});
