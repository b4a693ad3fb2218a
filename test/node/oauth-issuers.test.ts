/**
 * Issue 11, finding 8 (threat model G11): OAuth access tokens from several authorization
 * servers, each verified with its own JWKS (configured, or found through RFC 8414 metadata),
 * served for real by a loopback HTTP server. Runs in Node: the verifier is runtime-neutral.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfig, type WorkerEnv } from "../../src/config.js";
import { verifyOAuthToken } from "../../src/auth/oauth.js";

interface Issuer {
  name: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

let server: Server;
let base: string;
const hits = new Map<string, number>();
const issuers = new Map<string, Issuer>();
let metadataIssuerOverride: string | undefined;

async function newIssuer(name: string): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const issuer = { name, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `${name}-1`, alg: "ES256", use: "sig" } };
  issuers.set(name, issuer);
  return issuer;
}

const url = (name: string) => `${base}/${name}`;

beforeAll(async () => {
  await Promise.all(["a", "b", "c", "d"].map(newIssuer));
  server = createServer((req, res) => {
    const path = req.url ?? "";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const jwks = /^\/(\w+)\/jwks\.json$/.exec(path);
    const metadata = /^\/\.well-known\/oauth-authorization-server\/(\w+)$/.exec(path);
    res.setHeader("content-type", "application/json");
    if (jwks && issuers.has(jwks[1]!)) return res.end(JSON.stringify({ keys: [issuers.get(jwks[1]!)!.jwk] }));
    if (metadata && issuers.has(metadata[1]!)) return res.end(JSON.stringify({ issuer: metadataIssuerOverride ?? url(metadata[1]!), jwks_uri: `${url(metadata[1]!)}/jwks.json` }));
    res.statusCode = 404;
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  vi.useRealTimers();
  metadataIssuerOverride = undefined;
});

function config(extra: Record<string, string> = {}) {
  return parseConfig({
    TASKWARD_ISSUER: "https://tw.example",
    ORIGIN_URL: "https://origin.example/mcp",
    OAUTH_ISSUERS: JSON.stringify([
      { issuer: url("a"), jwks_uri: `${url("a")}/jwks.json` },
      { issuer: url("b"), jwks_uri: `${url("b")}/jwks.json`, tenants: ["beta"] },
      { issuer: url("c") },
      { issuer: url("d") },
    ]),
    ...extra,
  } as unknown as WorkerEnv);
}

/** The older configuration form (one issuer, OAUTH_JWKS_URL): the token rules hold in both. */
function singleIssuerConfig(name: string, extra: Record<string, string> = {}) {
  return parseConfig({ TASKWARD_ISSUER: "https://tw.example", ORIGIN_URL: "https://origin.example/mcp", OAUTH_ISSUERS: url(name), OAUTH_JWKS_URL: `${url(name)}/jwks.json`, ...extra } as unknown as WorkerEnv);
}

async function token(issuerName: string, claims: Record<string, unknown> = {}, options: { typ?: string; signer?: string } = {}): Promise<string> {
  const signer = issuers.get(options.signer ?? issuerName)!;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: "beta", client_id: "cli", auth_time: now - 10, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: signer.jwk.kid!, typ: options.typ ?? "at+jwt" })
    .setIssuer(url(issuerName))
    .setAudience("https://tw.example/mcp")
    .setSubject("alice")
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(signer.privateKey);
}

describe("several authorization servers, each with its own JWKS", () => {
  it("accepts each issuer's tokens with its own keys, and refuses a token signed by another issuer's key", async () => {
    const cfg = config();
    await expect(verifyOAuthToken(await token("a", { tenant: "alpha" }), cfg)).resolves.toMatchObject({ tenant: "alpha", clientId: "cli", subject: "alice", via: "oauth" });
    await expect(verifyOAuthToken(await token("b"), cfg)).resolves.toMatchObject({ tenant: "beta" });
    await expect(verifyOAuthToken(await token("a", {}, { signer: "b" }), cfg)).rejects.toThrow(/no applicable key found|signature verification failed/);
  });

  it("an issuer may only assert the tenants it is allowed to", async () => {
    await expect(verifyOAuthToken(await token("b", { tenant: "alpha" }), config())).rejects.toThrow(`issuer ${url("b")} may not assert tenant alpha`);
  });

  it("an issuer without jwks_uri is found through its RFC 8414 metadata, which must name it", async () => {
    await expect(verifyOAuthToken(await token("c", { tenant: "gamma" }), config())).resolves.toMatchObject({ tenant: "gamma" });
    expect(hits.get("/.well-known/oauth-authorization-server/c")).toBe(1);
  });

  it("refuses metadata that names another issuer", async () => {
    metadataIssuerOverride = "https://evil.example";
    await expect(verifyOAuthToken(await token("d"), config())).rejects.toThrow(/names issuer https:\/\/evil\.example/);
  });

  it("the old comma-separated form with one OAUTH_JWKS_URL still works", async () => {
    await expect(verifyOAuthToken(await token("a"), singleIssuerConfig("a"))).resolves.toMatchObject({ tenant: "beta" });
  });
});

describe("token rules", () => {
  it("requires typ at+jwt (RFC 9068) unless OAUTH_REQUIRE_AT_JWT is false", async () => {
    await expect(verifyOAuthToken(await token("a", {}, { typ: "JWT" }), singleIssuerConfig("a"))).rejects.toThrow(/"typ" JWT header value/);
    await expect(verifyOAuthToken(await token("a", {}, { typ: "application/at+jwt" }), singleIssuerConfig("a"))).resolves.toMatchObject({ tenant: "beta" });
    await expect(verifyOAuthToken(await token("a", {}, { typ: "JWT" }), singleIssuerConfig("a", { OAUTH_REQUIRE_AT_JWT: "false" }))).resolves.toMatchObject({ tenant: "beta" });
  });

  it("takes the authentication time from auth_time only: a token without it has none (step-up then fails)", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await verifyOAuthToken(await token("a", { auth_time: now - 5 }), singleIssuerConfig("a"))).authTime).toBe(now - 5);
    expect((await verifyOAuthToken(await token("a", { auth_time: undefined }), singleIssuerConfig("a"))).authTime).toBeUndefined();
  });

  it("re-fetches an authorization server's JWKS once it is older than 60 s", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const cfg = singleIssuerConfig("b");
    const path = "/b/jwks.json";
    // Another test may have fetched it already: count from here.
    await verifyOAuthToken(await token("b"), cfg);
    const first = hits.get(path)!;
    await verifyOAuthToken(await token("b"), cfg);
    expect(hits.get(path)).toBe(first);
    vi.setSystemTime(Date.now() + 61_000);
    await verifyOAuthToken(await token("b"), cfg);
    expect(hits.get(path)).toBe(first + 1);
  });
});
