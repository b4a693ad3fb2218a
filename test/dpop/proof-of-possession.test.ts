/**
 * authenticateCaller (src/auth/proof-of-possession.ts) under configurations the shared Worker
 * does not run with: DPOP_BOUND_ACCESS_TOKENS_REQUIRED, a narrower skew window; and the config
 * rules for the new settings.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { mintDevToken } from "../../src/auth/dev-issuer.js";
import { authenticateCaller } from "../../src/auth/proof-of-possession.js";
import { parseConfig, type WorkerEnv } from "../../src/config.js";
import { loadKeyRing } from "../../src/handle/keyring.js";
import { MCP_URL, makeProof, newDpopKey } from "./support.js";

const baseEnv = { ...(env as unknown as WorkerEnv), HANDLE_SIGNING_JWKS: inject("signingJwks"), DEV_MODE: "true", TASKWARD_ISSUER: "https://taskward.test" };
const IDENTITY = { tenant: "pop-config", client_id: "cli", sub: "sub" };

async function token(jkt?: string): Promise<string> {
  const ring = await loadKeyRing(inject("signingJwks"));
  return (await mintDevToken({ ...IDENTITY, ...(jkt ? { jkt } : {}) }, ring, "https://taskward.test", "https://taskward.test/mcp")).token;
}

function request(authorization: string, proof?: string): Request {
  return new Request(MCP_URL, { method: "POST", headers: { authorization, ...(proof ? { dpop: proof } : {}) } });
}

describe("DPOP_BOUND_ACCESS_TOKENS_REQUIRED", () => {
  const config = parseConfig({ ...baseEnv, DPOP_BOUND_ACCESS_TOKENS_REQUIRED: "true" } as WorkerEnv);

  it("refuses an unbound token without a proof, and with one (dpop_required, DPoP challenge)", async () => {
    const plain = await token();
    await expect(authenticateCaller(request(`Bearer ${plain}`), config, baseEnv as WorkerEnv)).rejects.toMatchObject({ code: "dpop_required", status: 401, headers: { "www-authenticate": 'DPoP algs="EdDSA ES256"' } });
    const key = await newDpopKey();
    await expect(authenticateCaller(request(`Bearer ${plain}`, await makeProof(key, { accessToken: plain })), config, baseEnv as WorkerEnv)).rejects.toMatchObject({ code: "dpop_required" });
  });

  it("accepts a bound token with a proof by its key, and the principal carries the key and the proof to spend", async () => {
    const key = await newDpopKey("EdDSA");
    const bound = await token(key.jkt);
    const principal = await authenticateCaller(request(`DPoP ${bound}`, await makeProof(key, { accessToken: bound, jti: "only-once" })), config, baseEnv as WorkerEnv);
    expect(principal).toMatchObject({ tenant: "pop-config", boundJkt: key.jkt, jkt: key.jkt, proof: { key: `${key.jkt}.only-once` } });
  });
});

describe("DPOP_MAX_SKEW_SECONDS", () => {
  it("narrows the iat window", async () => {
    const config = parseConfig({ ...baseEnv, DPOP_MAX_SKEW_SECONDS: "30" } as WorkerEnv);
    const key = await newDpopKey();
    const bound = await token(key.jkt);
    const old = await makeProof(key, { accessToken: bound, iat: Math.floor(Date.now() / 1000) - 60 });
    await expect(authenticateCaller(request(`DPoP ${bound}`, old), config, baseEnv as WorkerEnv)).rejects.toMatchObject({ code: "invalid_dpop_proof", detail: expect.stringContaining("ERR_DPOP_IAT") });
  });
});

describe("config", () => {
  it("defaults: 300 s skew, bound tokens not required, 60 s assertions, no handle header", () => {
    // The workers project turns the handle header on; the default is what an unset variable gives.
    const config = parseConfig({ ...baseEnv, FORWARD_TASK_HANDLE_HEADER: undefined } as WorkerEnv);
    expect({ dpop: config.dpop, ttl: config.originAssertionTtlSeconds, handleHeader: config.forwardTaskHandleHeader }).toEqual({
      dpop: { maxSkewSeconds: 300, boundTokensRequired: false },
      ttl: 60,
      handleHeader: false,
    });
  });

  it("refuses an assertion lifetime over 300 s and non-boolean flags", () => {
    expect(() => parseConfig({ ...baseEnv, ORIGIN_ASSERTION_TTL_SECONDS: "301" } as WorkerEnv)).toThrow("ORIGIN_ASSERTION_TTL_SECONDS must be at most 300, got 301");
    expect(() => parseConfig({ ...baseEnv, FORWARD_TASK_HANDLE_HEADER: "yes" } as WorkerEnv)).toThrow('FORWARD_TASK_HANDLE_HEADER must be "true" or "false"');
    expect(() => parseConfig({ ...baseEnv, DPOP_MAX_SKEW_SECONDS: "0" } as WorkerEnv)).toThrow("DPOP_MAX_SKEW_SECONDS must be a positive integer");
  });
});
