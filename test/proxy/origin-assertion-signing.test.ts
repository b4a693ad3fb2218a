/**
 * Issue 14: the origin assertion is signed with WebCrypto directly instead of through jose's
 * SignJWT. The token must be the one SignJWT builds from the same header and claims: byte for
 * byte for EdDSA (deterministic), and for ES256 (randomized) the same header and payload segments
 * with a signature jose verifies.
 */
import { SignJWT, compactVerify, decodeProtectedHeader, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { generateSigningJwk, loadKeyRing } from "../../src/handle/keyring.js";
import type { HandleAlgorithm } from "../../src/handle/claims.js";
import { signOriginAssertion } from "../../src/proxy/origin-assertion.js";

const PRINCIPAL = { tenant: "t-sign", clientId: "cli", subject: "sub", jkt: "thumb-print" };

async function ringOf(alg: HandleAlgorithm) {
  const jwk = await generateSigningJwk(alg);
  const { d: _d, ...publicJwk } = jwk;
  return { ring: await loadKeyRing(JSON.stringify({ keys: [jwk] })), publicKey: await importJWK(publicJwk, alg), jwk };
}

const segments = (token: string) => token.split(".");
const joseEquivalent = (token: string, ring: Awaited<ReturnType<typeof loadKeyRing>>) => {
  const payload = JSON.parse(new TextDecoder().decode(Buffer.from(segments(token)[1]!, "base64url")));
  return new SignJWT(payload).setProtectedHeader({ alg: ring.signing.alg, kid: ring.signing.kid, typ: decodeProtectedHeader(token).typ as string }).sign(ring.signing.key);
};

describe("signOriginAssertion signs what jose's SignJWT would", () => {
  const input = (ring: Awaited<ReturnType<typeof loadKeyRing>>) => ({
    keyRing: ring,
    issuer: "https://taskward.test",
    audience: "https://origin.test/mcp",
    ttlSeconds: 60,
    principal: PRINCIPAL,
    op: "get" as const,
    txn: "txn-1",
    task: "origin-task-\u00e9\u2603",
    handleJti: "jti-1",
    body: new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"origin-task-\\u00e9"}}'),
  });

  it("EdDSA: the same token, byte for byte (also a second call with the cached header)", async () => {
    const { ring, publicKey } = await ringOf("EdDSA");
    for (let i = 0; i < 2; i++) {
      const token = await signOriginAssertion(input(ring));
      expect(token).toBe(await joseEquivalent(token, ring));
      expect(decodeProtectedHeader(token)).toEqual({ alg: "EdDSA", kid: ring.signing.kid, typ: "taskward-origin-assertion+jwt" });
      await expect(compactVerify(token, publicKey)).resolves.toBeDefined();
    }
  });

  it("ES256: the same header and claims segments, a signature jose verifies, and a tampered one it refuses", async () => {
    const { ring, publicKey } = await ringOf("ES256");
    const token = await signOriginAssertion(input(ring));
    const reference = await joseEquivalent(token, ring);
    expect(segments(token).slice(0, 2)).toEqual(segments(reference).slice(0, 2));
    expect(Buffer.from(segments(token)[2]!, "base64url").byteLength).toBe(64);
    await expect(compactVerify(token, publicKey)).resolves.toBeDefined();
    const [h, p, s] = segments(token);
    const flipped = `${s![0] === "A" ? "B" : "A"}${s!.slice(1)}`;
    await expect(compactVerify(`${h}.${p}.${flipped}`, publicKey)).rejects.toThrow();
  });
});
