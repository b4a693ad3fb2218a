/** verifyDpopProof (src/auth/dpop.ts) in workerd: each RFC 9449 §4.3 check, with its stable code. */
import { describe, expect, it } from "vitest";
import { accessTokenHash, normalizedHtu, verifyDpopProof, type DpopErrorCode } from "../../src/auth/dpop.js";
import { MCP_URL, makeProof, newDpopKey, sha256B64url, type ProofOptions } from "./support.js";

const TOKEN = "eyJhbGciOiJFZERTQSJ9.e30.c2ln";
const check = { method: "POST", url: MCP_URL, accessToken: TOKEN, maxSkewSeconds: 300 };

async function refusedWith(code: DpopErrorCode, options: ProofOptions, request: Partial<typeof check> = {}): Promise<void> {
  const key = await newDpopKey();
  const proof = await makeProof(key, { accessToken: TOKEN, ...options });
  await expect(verifyDpopProof(proof, { ...check, ...request })).rejects.toMatchObject({ name: "DpopProofError", code });
}

describe("verifyDpopProof", () => {
  it("accepts an ES256 and an EdDSA proof and returns the RFC 7638 thumbprint of the key", async () => {
    for (const alg of ["ES256", "EdDSA"] as const) {
      const key = await newDpopKey(alg);
      const verified = await verifyDpopProof(await makeProof(key, { accessToken: TOKEN, jti: `j-${alg}` }), check);
      expect({ jkt: verified.jkt, jti: verified.jti }).toEqual({ jkt: key.jkt, jti: `j-${alg}` });
      expect(verified.acceptableUntil).toBe((verified.iat + 301) * 1000);
    }
  });

  it("computes ath as base64url(SHA-256(token))", async () => {
    expect(await accessTokenHash(TOKEN)).toBe(await sha256B64url(TOKEN));
  });

  it("normalises htu per RFC 3986: scheme and host case, default port; never the path", () => {
    expect(normalizedHtu("HTTPS://TaskWard.TEST:443/mcp")).toBe("https://taskward.test/mcp");
    expect(normalizedHtu("https://taskward.test:8443/mcp")).toBe("https://taskward.test:8443/mcp");
    expect(normalizedHtu("https://taskward.test/MCP")).toBe("https://taskward.test/MCP");
    expect(normalizedHtu("ftp://taskward.test/mcp")).toBeUndefined();
    expect(normalizedHtu("not a url")).toBeUndefined();
  });

  it("ignores the request URL's own query when comparing", async () => {
    const key = await newDpopKey();
    await expect(verifyDpopProof(await makeProof(key, { accessToken: TOKEN }), { ...check, url: `${MCP_URL}?page=2` })).resolves.toMatchObject({ jkt: key.jkt });
  });

  it("refuses each broken requirement with its own code", async () => {
    await refusedWith("ERR_DPOP_TYP", { header: (h) => ({ ...h, typ: "JWT" }) });
    await refusedWith("ERR_DPOP_ALG_NOT_ALLOWED", { header: (h) => ({ ...h, alg: "RS256" }) });
    await refusedWith("ERR_DPOP_JWK", { header: (h) => ({ ...h, jwk: { ...(h.jwk as object), d: "AAAA" } }) });
    await refusedWith("ERR_DPOP_JWK", { header: ({ jwk: _jwk, ...h }) => h });
    await refusedWith("ERR_DPOP_SIGNATURE", { signWith: (await newDpopKey()).privateKey });
    await refusedWith("ERR_DPOP_HTM", { htm: "GET" });
    await refusedWith("ERR_DPOP_HTU", { htu: `${MCP_URL}?x=1` });
    await refusedWith("ERR_DPOP_HTU", { htu: "https://taskward.test/other" });
    await refusedWith("ERR_DPOP_IAT", { iat: Math.floor(Date.now() / 1000) - 301 });
    await refusedWith("ERR_DPOP_IAT", { iat: Math.floor(Date.now() / 1000) + 301 });
    await refusedWith("ERR_DPOP_JTI", { claims: ({ jti: _jti, ...c }) => c });
    await refusedWith("ERR_DPOP_JTI", { jti: "x".repeat(257) });
    await refusedWith("ERR_DPOP_ATH", { accessToken: "another-token" });
    await refusedWith("ERR_DPOP_ATH", { claims: ({ ath: _ath, ...c }) => c });
  });

  it("refuses a proof that is not one compact JWS", async () => {
    const key = await newDpopKey();
    const proof = await makeProof(key, { accessToken: TOKEN });
    await expect(verifyDpopProof(`${proof}, ${proof}`, check)).rejects.toMatchObject({ code: "ERR_DPOP_MALFORMED" });
    await expect(verifyDpopProof("a".repeat(5000), check)).rejects.toMatchObject({ code: "ERR_DPOP_MALFORMED" });
  });
});
