import { SignJWT, base64url, exportJWK, generateKeyPair, type JWK, type JWTPayload } from "jose";
import { describe, expect, it } from "vitest";
import { TaskHandleError, verifyTaskHandle, type TaskHandleErrorCode } from "../../src/origin/index.js";

/** taskward/origin verifies through jose's jwtVerify: every refusal keeps its stable code. */
const ISSUER = "https://taskward.test";
const AUDIENCE = "https://origin.test/mcp";
const TYP = "mcp-task-handle+jwt";
const now = () => Math.floor(Date.now() / 1000);

const edPair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const esPair = await generateKeyPair("ES256", { extractable: true });
const publicJwk = async (key: CryptoKey, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(key)), kid, alg, use: "sig" });
const jwks = { keys: [await publicJwk(edPair.publicKey, "ed-1", "EdDSA"), await publicJwk(esPair.publicKey, "es-1", "ES256")] };

function claims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER, aud: AUDIENCE, sub: "alice", tenant: "acme", client_id: "cli", jti: "jti-1", iat: now(), exp: now() + 600,
    task: "origin-task-1", tool: "slow_echo", ops: ["get", "result"], mcp: "2025-11-25", ...overrides,
  };
}

function sign(payload: JWTPayload, header: Record<string, unknown> = {}, key: CryptoKey = edPair.privateKey): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid: "ed-1", typ: TYP, ...header } as never).sign(key);
}

const part = (value: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(value)));

function unsigned(header: Record<string, unknown>, payload: JWTPayload): string {
  return `${part(header)}.${part(payload)}.`;
}

/** Signed with WebCrypto directly, for headers jose itself refuses to produce. */
async function signRaw(header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const input = `${part(header)}.${part(payload)}`;
  const signature = await crypto.subtle.sign("Ed25519", edPair.privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(signature))}`;
}

async function expectCode(token: string, code: TaskHandleErrorCode, claim?: string): Promise<void> {
  const error = await verifyTaskHandle(token, { issuer: ISSUER, audience: AUDIENCE, jwks }).then(
    () => new Error("accepted"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TaskHandleError);
  expect(error).toMatchObject(claim ? { code, claim } : { code });
}

describe("verifyTaskHandle (taskward/origin) refusals", () => {
  it("accepts a well-formed handle signed by either allowlisted algorithm", async () => {
    const ed = await verifyTaskHandle(await sign(claims()), { issuer: ISSUER, audience: AUDIENCE, jwks });
    expect(ed).toMatchObject({ task: "origin-task-1", tenant: "acme", ops: ["get", "result"] });
    const es = await verifyTaskHandle(await sign(claims({ task: "t-es" }), { alg: "ES256", kid: "es-1" }, esPair.privateKey), { issuer: ISSUER, audience: AUDIENCE, jwks });
    expect(es.task).toBe("t-es");
  });

  it("refuses algorithms, types and headers the handle format does not allow", async () => {
    await expectCode(unsigned({ alg: "none", kid: "ed-1", typ: TYP }, claims()), "ERR_HANDLE_ALG_NOT_ALLOWED");
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: "ed-1", typ: TYP }).sign(new Uint8Array(32));
    await expectCode(hs, "ERR_HANDLE_ALG_NOT_ALLOWED");
    await expectCode(await sign(claims(), { typ: "at+jwt" }), "ERR_HANDLE_TYP");
    await expectCode(await sign(claims(), { jwk: jwks.keys[0] }), "ERR_HANDLE_HEADER_NOT_ALLOWED");
    await expectCode(await sign(claims(), { jku: "https://attacker.example/jwks.json" }), "ERR_HANDLE_HEADER_NOT_ALLOWED");
    await expectCode(await sign(claims(), { kid: undefined }), "ERR_HANDLE_KID_MISSING");
    await expectCode(await sign(claims(), { kid: "nobody" }), "ERR_HANDLE_KID_UNKNOWN");
    await expectCode(await signRaw({ alg: "EdDSA", kid: "ed-1", typ: TYP, crit: ["x-taskward"], "x-taskward": 1 }, claims()), "ERR_HANDLE_MALFORMED");
    await expectCode("not-a-jws", "ERR_HANDLE_MALFORMED");
    await expectCode("a".repeat(5000), "ERR_HANDLE_TOO_LONG");
  });

  it("refuses a signature that does not verify, including a key of the other algorithm under a known kid", async () => {
    const token = await sign(claims());
    await expectCode(`${token.slice(0, -4)}${token.endsWith("AAAA") ? "BBBB" : "AAAA"}`, "ERR_HANDLE_SIGNATURE");
    const otherKey = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    await expectCode(await sign(claims(), {}, otherKey.privateKey), "ERR_HANDLE_SIGNATURE");
    // es-1 is an ES256 key: an EdDSA header naming it finds no usable key.
    await expectCode(await sign(claims(), { kid: "es-1" }), "ERR_HANDLE_KID_UNKNOWN");
  });

  it("refuses handles for another issuer or audience, out of their lifetime, or missing a claim", async () => {
    await expectCode(await sign(claims({ iss: "https://other.test" })), "ERR_HANDLE_CLAIM", "iss");
    await expectCode(await sign(claims({ aud: "https://elsewhere.test/mcp" })), "ERR_HANDLE_CLAIM", "aud");
    await expectCode(await sign(claims({ aud: [AUDIENCE, "https://elsewhere.test/mcp"] })), "ERR_HANDLE_CLAIM", "aud");
    await expectCode(await sign(claims({ exp: now() - 60 })), "ERR_HANDLE_EXPIRED", "exp");
    await expectCode(await sign(claims({ nbf: now() + 600 })), "ERR_HANDLE_NOT_YET_VALID", "nbf");
    await expectCode(await sign(claims({ iat: now() + 600 })), "ERR_HANDLE_CLAIM", "iat");
    await expectCode(await sign(claims({ tenant: undefined })), "ERR_HANDLE_CLAIM", "tenant");
    await expectCode(await sign(claims({ task: "" })), "ERR_HANDLE_CLAIM", "task");
    await expectCode(await sign(claims({ ops: ["get", "delete"] })), "ERR_HANDLE_CLAIM", "ops");
    await expectCode(await sign(claims({ exp: "soon" as never })), "ERR_HANDLE_CLAIM", "exp");
  });
});
