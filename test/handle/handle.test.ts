import { SignJWT, generateKeyPair, exportJWK, base64url } from "jose";
import { describe, expect, it } from "vitest";
import {
  HANDLE_TYP,
  generateSigningJwks,
  keyRingResolver,
  loadKeyRing,
  mintHandle,
  verifyHandle,
  type KeyRing,
  type TaskHandleErrorCode,
} from "../../src/handle/index.js";

const ISSUER = "https://taskward.test";
const AUDIENCE = "https://origin.test/mcp";

const grant = {
  sub: "alice",
  tenant: "acme",
  client_id: "cli",
  task: "origin-task-1",
  tool: "slow_echo",
  ops: ["get", "result"] as ("get" | "result")[],
  mcp: "2025-11-25",
  exp: Math.floor(Date.now() / 1000) + 600,
};

async function ring(alg: "EdDSA" | "ES256" = "EdDSA"): Promise<KeyRing> {
  return loadKeyRing(await generateSigningJwks(alg));
}

async function expectCode(promise: Promise<unknown>, code: TaskHandleErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: "TaskHandleError", code });
}

function verify(token: string, keyRing: KeyRing, overrides: Partial<{ issuer: string; audience: string; now: () => number }> = {}) {
  return verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey: keyRingResolver(keyRing), ...overrides });
}

describe("mintHandle / verifyHandle", () => {
  for (const alg of ["EdDSA", "ES256"] as const) {
    it(`round-trips every claim with ${alg}`, async () => {
      const keyRing = await ring(alg);
      const { token, claims } = await mintHandle(grant, { keyRing, issuer: ISSUER, audience: AUDIENCE });
      const verified = await verify(token, keyRing);
      expect(verified).toEqual(claims);
      expect(verified.task).toBe("origin-task-1");
      expect(verified.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });
  }

  it("puts kid, alg and the handle typ in the protected header", async () => {
    const keyRing = await ring();
    const { token } = await mintHandle(grant, { keyRing, issuer: ISSUER, audience: AUDIENCE });
    const header = JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[0]!)));
    expect(header).toEqual({ alg: "EdDSA", kid: keyRing.activeKid, typ: HANDLE_TYP });
  });

  it("gives every handle a distinct 128-bit jti", async () => {
    const keyRing = await ring();
    const jtis = new Set<string>();
    for (let i = 0; i < 50; i++) jtis.add((await mintHandle(grant, { keyRing, issuer: ISSUER, audience: AUDIENCE })).claims.jti);
    expect(jtis.size).toBe(50);
  });

  it("refuses an expired handle", async () => {
    const keyRing = await ring();
    const { token } = await mintHandle({ ...grant, exp: Math.floor(Date.now() / 1000) - 1 }, { keyRing, issuer: ISSUER, audience: AUDIENCE });
    await expectCode(verify(token, keyRing), "ERR_HANDLE_EXPIRED");
  });

  it("refuses a wrong issuer and a wrong audience", async () => {
    const keyRing = await ring();
    const { token } = await mintHandle(grant, { keyRing, issuer: ISSUER, audience: AUDIENCE });
    await expectCode(verify(token, keyRing, { issuer: "https://other.test" }), "ERR_HANDLE_CLAIM");
    await expectCode(verify(token, keyRing, { audience: "https://other.test/mcp" }), "ERR_HANDLE_CLAIM");
  });

  it("refuses a handle signed by another key with the same kid", async () => {
    const keyRing = await ring();
    const other = await ring();
    const { token } = await mintHandle(grant, { keyRing: { ...other, signing: { ...other.signing, kid: keyRing.activeKid } }, issuer: ISSUER, audience: AUDIENCE });
    await expectCode(verify(token, keyRing), "ERR_HANDLE_SIGNATURE");
  });

  it("refuses an unknown kid", async () => {
    const keyRing = await ring();
    const other = await ring();
    const { token } = await mintHandle(grant, { keyRing: other, issuer: ISSUER, audience: AUDIENCE });
    await expectCode(verify(token, keyRing), "ERR_HANDLE_KID_UNKNOWN");
  });

  it("refuses a tampered payload", async () => {
    const keyRing = await ring();
    const { token } = await mintHandle(grant, { keyRing, issuer: ISSUER, audience: AUDIENCE });
    const [h, p, s] = token.split(".");
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    payload.tenant = "evil";
    const forged = `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
    await expectCode(verify(forged, keyRing), "ERR_HANDLE_SIGNATURE");
  });

  it("refuses alg none, a non-handle typ, a missing kid and key-selecting headers", async () => {
    const keyRing = await ring();
    const body = base64url.encode(JSON.stringify({ ...grant, iss: ISSUER, aud: AUDIENCE, iat: 1, jti: "x" }));
    const unsigned = `${base64url.encode(JSON.stringify({ alg: "none", typ: HANDLE_TYP, kid: keyRing.activeKid }))}.${body}.AAAA`;
    await expectCode(verify(unsigned, keyRing), "ERR_HANDLE_ALG_NOT_ALLOWED");

    const claims = { ...grant, jti: "jti-1" };
    const sign = (header: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", ...header }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().sign(keyRing.signing.key);
    await expectCode(verify(await sign({ kid: keyRing.activeKid, typ: "at+jwt" }), keyRing), "ERR_HANDLE_TYP");
    await expectCode(verify(await sign({ typ: HANDLE_TYP }), keyRing), "ERR_HANDLE_KID_MISSING");
    await expectCode(verify(await sign({ kid: keyRing.activeKid, typ: HANDLE_TYP, jku: "https://evil.test/jwks" }), keyRing), "ERR_HANDLE_HEADER_NOT_ALLOWED");
    // Sanity: the same construction with the right header verifies, so the refusals above are for the header alone.
    await expect(verify(await sign({ kid: keyRing.activeKid, typ: HANDLE_TYP }), keyRing)).resolves.toMatchObject({ jti: "jti-1" });
  });

  it("refuses an HS256 handle keyed with the public key", async () => {
    const keyRing = await ring();
    const publicJwk = keyRing.publicJwks.keys[0]!;
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const token = await new SignJWT({ ...grant, jti: "j" })
      .setProtectedHeader({ alg: "HS256", kid: keyRing.activeKid, typ: HANDLE_TYP })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().sign(secret);
    await expectCode(verify(token, keyRing), "ERR_HANDLE_ALG_NOT_ALLOWED");
  });

  it("refuses a handle whose alg differs from its key's", async () => {
    const edRing = await ring("EdDSA");
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const token = await new SignJWT({ ...grant, jti: "j" })
      .setProtectedHeader({ alg: "ES256", kid: edRing.activeKid, typ: HANDLE_TYP })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().sign(privateKey);
    await expectCode(verify(token, edRing), "ERR_HANDLE_ALG_NOT_ALLOWED");
    expect(await exportJWK(privateKey)).toHaveProperty("d");
  });

  it("refuses garbage, truncated and oversized handles before parsing", async () => {
    const keyRing = await ring();
    const { token } = await mintHandle(grant, { keyRing, issuer: ISSUER, audience: AUDIENCE });
    await expectCode(verify("not-a-jws", keyRing), "ERR_HANDLE_MALFORMED");
    await expectCode(verify(token.slice(0, token.lastIndexOf(".")), keyRing), "ERR_HANDLE_MALFORMED");
    await expectCode(verify(token.slice(0, -4), keyRing), "ERR_HANDLE_SIGNATURE");
    await expectCode(verify(`${token}${"A".repeat(5000)}`, keyRing), "ERR_HANDLE_TOO_LONG");
  });

  it("refuses an iat in the future; accepts a client handle without a task claim", async () => {
    const keyRing = await ring();
    const future = Math.floor(Date.now() / 1000) + 3600;
    const { token } = await mintHandle({ ...grant, exp: future + 600 }, { keyRing, issuer: ISSUER, audience: AUDIENCE, now: () => future * 1000 });
    await expect(verify(token, keyRing)).rejects.toMatchObject({ code: "ERR_HANDLE_CLAIM", claim: "iat" });
    const { task: _task, ...withoutTask } = grant;
    const noTask = await new SignJWT({ ...withoutTask, jti: "j" })
      .setProtectedHeader({ alg: "EdDSA", kid: keyRing.activeKid, typ: HANDLE_TYP })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().sign(keyRing.signing.key);
    // Client handles name no origin task (the ledger maps the jti); the edge verifies them as they are.
    const verified = await verify(noTask, keyRing);
    expect(verified.jti).toBe("j");
    expect("task" in verified).toBe(false);
  });
});

describe("loadKeyRing", () => {
  it("verifies with every listed key but signs with the active one (rotation)", async () => {
    const oldDoc = JSON.parse(await generateSigningJwks("EdDSA"));
    const newDoc = JSON.parse(await generateSigningJwks("ES256"));
    const oldRing = await loadKeyRing(JSON.stringify(oldDoc));
    const { token: oldToken } = await mintHandle(grant, { keyRing: oldRing, issuer: ISSUER, audience: AUDIENCE });
    const rotated = await loadKeyRing(JSON.stringify({ keys: [...oldDoc.keys, ...newDoc.keys], active: newDoc.active }));
    expect(rotated.signing.kid).toBe(newDoc.active);
    await expect(verify(oldToken, rotated)).resolves.toMatchObject({ task: "origin-task-1" });
    expect(rotated.publicJwks.keys).toHaveLength(2);
    for (const key of rotated.publicJwks.keys) expect(key).not.toHaveProperty("d");
  });

  it("rejects documents without keys, without kid, with a disallowed alg, or an unknown active kid", async () => {
    const doc = JSON.parse(await generateSigningJwks("EdDSA"));
    await expect(loadKeyRing("{")).rejects.toThrow(/not JSON/);
    await expect(loadKeyRing(JSON.stringify({ keys: [] }))).rejects.toThrow(/non-empty/);
    await expect(loadKeyRing(JSON.stringify({ keys: [{ ...doc.keys[0], kid: undefined }] }))).rejects.toThrow(/kid/);
    await expect(loadKeyRing(JSON.stringify({ keys: [{ ...doc.keys[0], alg: "RS256" }] }))).rejects.toThrow(/alg must be/);
    await expect(loadKeyRing(JSON.stringify({ keys: doc.keys, active: "nope" }))).rejects.toThrow(/active kid/);
  });
});
