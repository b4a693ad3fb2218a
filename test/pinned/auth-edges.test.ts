/**
 * Edges of src/auth the sampled mutants showed loose: what a dev token's principal carries, the
 * dev operator-token endpoint's answer to a bad body, and DPoP key shapes (curve as well as type).
 */
import { describe, expect, it } from "vitest";
import { mintDevToken, verifyDevToken } from "../../src/auth/dev-issuer.js";
import { verifyDpopProof } from "../../src/auth/dpop.js";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/index.js";
import { worker } from "../support/mcp-client.js";
import { MCP_URL, makeProof, newDpopKey } from "../dpop/support.js";

describe("dev tokens", () => {
  it("the principal of a dev token carries its tenant, client, subject and the scope split into a list", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const { token } = await mintDevToken({ tenant: "t1", client_id: "c1", sub: "alice" }, ring, "https://taskward.test", "https://taskward.test/mcp");
    expect(await verifyDevToken(token, ring, "https://taskward.test", "https://taskward.test/mcp")).toMatchObject({ tenant: "t1", clientId: "c1", subject: "alice", scopes: ["mcp"], via: "dev" });
  });

  it("/dev/operator-token answers a bad body 400 and says what it expects", async () => {
    const response = await worker().fetch("https://taskward.test/dev/operator-token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sub: "op" }) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request", message: expect.stringMatching(/^expected \{"sub","roles":\[.*roles/) });
  });
});

describe("DPoP proof keys", () => {
  it("a proof whose jwk has the alg's key type but another curve is refused as ERR_DPOP_JWK", async () => {
    const check = { method: "POST", url: MCP_URL, maxSkewSeconds: 300 };
    const es = await newDpopKey("ES256");
    const wrongCurve = await makeProof(es, { header: (h) => ({ ...h, jwk: { ...(h.jwk as object), crv: "P-384" } }) });
    await expect(verifyDpopProof(wrongCurve, check)).rejects.toMatchObject({ code: "ERR_DPOP_JWK" });
    const ed = await newDpopKey("EdDSA");
    const x25519 = await makeProof(ed, { header: (h) => ({ ...h, jwk: { ...(h.jwk as object), crv: "X25519" } }) });
    await expect(verifyDpopProof(x25519, check)).rejects.toMatchObject({ code: "ERR_DPOP_JWK" });
    await expect(verifyDpopProof(await makeProof(es), check)).resolves.toMatchObject({ jkt: es.jkt });
  });
});
