/**
 * Handle verification claims and key checks, and the TTL/ops/policy rules, pinned through their
 * public functions (src/handle/index.ts, src/policy/index.ts) and /dev/token.
 */
import { SignJWT, errors as joseErrors } from "jose";
import type { Config } from "../../src/config.js";
import { TaskHandleError } from "../../src/handle/errors.js";
import { signingKeyRing } from "../../src/handle/signing-keys.js";
import { describe, expect, it, vi } from "vitest";
import { generateSigningJwks, keyRingResolver, loadKeyRing, verifyHandle, type KeyRing } from "../../src/handle/index.js";
import { DEFAULT_TOOL_POLICY, effectiveTtlMs, opsFor, parseTaskPolicy, ttlCapSeconds } from "../../src/policy/task-policy.js";
import { generateSigningJwk } from "../../src/handle/keyring.js";
import { seal, unseal } from "../../src/handle/seal.js";
import { applyTaskSupportPolicy } from "../../src/policy/tools-list.js";
import { moduleFor } from "../../src/mcp/revisions/index.js";
import { worker } from "../support/mcp-client.js";

const ISSUER = "https://taskward.test";
const AUDIENCE = "https://origin.test/mcp";

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: AUDIENCE, sub: "alice", tenant: "acme", client_id: "cli", jti: "j1", iat: now, exp: now + 600, task: "t1", tool: "slow_echo", ops: ["get"], mcp: "2025-11-25", ...overrides };
}

/** Signs a raw payload text (numbers JSON can write but JavaScript cannot, like 1e400). */
async function signText(ring: KeyRing, payloadJson: string): Promise<string> {
  const enc = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const input = `${enc(JSON.stringify({ alg: ring.signing.alg, kid: ring.signing.kid, typ: "mcp-task-handle+jwt" }))}.${enc(payloadJson)}`;
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, ring.signing.key, new TextEncoder().encode(input)));
  return `${input}.${enc(String.fromCharCode(...signature))}`;
}

describe("verifyHandle: numeric claims and the key's algorithm", () => {
  const verify = (token: string, ring: KeyRing) => verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey: keyRingResolver(ring) });

  it("refuses a non-number exp with ERR_HANDLE_CLAIM (not as merely expired)", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const token = await signText(ring, JSON.stringify(claims({ exp: String(Math.floor(Date.now() / 1000) + 600) })));
    await expect(verify(token, ring)).rejects.toMatchObject({ code: "ERR_HANDLE_CLAIM", claim: "exp" });
  });

  it("a missing exp or iat is refused; nbf is optional but, when present, in force", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const { exp: _exp, ...withoutExp } = claims();
    const { iat: _iat, ...withoutIat } = claims();
    await expect(verify(await signText(ring, JSON.stringify(withoutExp)), ring)).rejects.toMatchObject({ code: "ERR_HANDLE_CLAIM", claim: "exp" });
    await expect(verify(await signText(ring, JSON.stringify(withoutIat)), ring)).rejects.toMatchObject({ code: "ERR_HANDLE_CLAIM", claim: "iat" });
    const now = Math.floor(Date.now() / 1000);
    await expect(verify(await signText(ring, JSON.stringify(claims({ nbf: now + 120 }))), ring)).rejects.toMatchObject({ code: "ERR_HANDLE_NOT_YET_VALID", claim: "nbf" });
    await expect(verify(await signText(ring, JSON.stringify(claims({ nbf: now - 1 }))), ring)).resolves.toMatchObject({ jti: "j1" });
  });

  it("refuses an infinite exp (1e400 in the JSON) with ERR_HANDLE_CLAIM", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const token = await signText(ring, JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400'));
    await expect(verify(token, ring)).rejects.toMatchObject({ code: "ERR_HANDLE_CLAIM", claim: "exp" });
  });

  it("refuses a key of another algorithm than the header's with ERR_HANDLE_ALG_NOT_ALLOWED", async () => {
    const ed = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const es = await loadKeyRing(await generateSigningJwks("ES256"));
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "EdDSA", kid: ed.signing.kid, typ: "mcp-task-handle+jwt" }).sign(ed.signing.key);
    // A resolver that hands back an ES256 key for an EdDSA header.
    const wrongKey = [...es.verifying.values()][0]!.key;
    await expect(verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey: () => wrongKey })).rejects.toMatchObject({ code: "ERR_HANDLE_ALG_NOT_ALLOWED" });
    expect(await verify(token, ed)).toMatchObject({ jti: "j1" });
  });
});

describe("verifyHandle keeps what a delegation adds", () => {
  it("the act chain of a delegated handle is in its verified claims; a plain handle has none", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const verify = (token: string) => verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey: keyRingResolver(ring) });
    const act = { sub: "bob", client_id: "cli-2", act: { sub: "alice", client_id: "cli" } };
    expect((await verify(await signText(ring, JSON.stringify(claims({ act }))))).act).toEqual(act);
    expect(await verify(await signText(ring, JSON.stringify(claims())))).not.toHaveProperty("act");
  });
});

describe("verifyHandle: what a failing key resolver means", () => {
  it("an ambiguous kid (jose's error) and any other failure are ERR_HANDLE_MALFORMED; the resolver's own handle error passes through", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const token = await signText(ring, JSON.stringify(claims()));
    const failingWith = (error: unknown) => verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey: async () => { throw error; } });
    await expect(failingWith(new joseErrors.JWKSMultipleMatchingKeys())).rejects.toMatchObject({ code: "ERR_HANDLE_MALFORMED", message: "multiple matching keys found in the JSON Web Key Set" });
    await expect(failingWith(new Error("network down"))).rejects.toMatchObject({ code: "ERR_HANDLE_MALFORMED", message: "handle could not be verified" });
    await expect(failingWith(new joseErrors.JOSEAlgNotAllowed("alg not allowed here"))).rejects.toMatchObject({ code: "ERR_HANDLE_ALG_NOT_ALLOWED" });
    await expect(failingWith(new TaskHandleError("ERR_HANDLE_KID_UNKNOWN", "no such kid"))).rejects.toMatchObject({ code: "ERR_HANDLE_KID_UNKNOWN", message: "no such kid" });
  });
});

describe("sealed values: the length limit is exact", () => {
  it("a genuine sealed value of 4096 characters opens; one of 4097 is refused unread", async () => {
    const found = new Map<number, { sealed: string; ring: KeyRing }>();
    // Sealed lengths step by 1–2 characters per byte of payload; vary the kid's length to hit both.
    for (let kidLength = 1; kidLength <= 8 && found.size < 2; kidLength++) {
      const jwk = await generateSigningJwk("EdDSA", "k".repeat(kidLength));
      const ring = await loadKeyRing(JSON.stringify({ keys: [jwk], active: jwk.kid }));
      for (let padding = 2_900; padding <= 3_100 && found.size < 2; padding++) {
        const sealed = await seal("cursor", { p: "x".repeat(padding) }, ring);
        if ((sealed.length === 4096 || sealed.length === 4097) && !found.has(sealed.length)) found.set(sealed.length, { sealed, ring });
      }
    }
    const atLimit = found.get(4096)!;
    const overLimit = found.get(4097)!;
    expect(atLimit.sealed).toHaveLength(4096);
    expect(overLimit.sealed).toHaveLength(4097);
    expect(await unseal("cursor", atLimit.sealed, atLimit.ring)).toMatchObject({ p: expect.any(String) });
    expect(await unseal("cursor", overLimit.sealed, overLimit.ring)).toBeUndefined();
  });

  it("a sealed value expires at its exp's very millisecond", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const sealed = await seal("cursor", { c: 1 }, ring, 30);
    const { exp } = (await unseal("cursor", sealed, ring)) as { exp: number };
    const clock = vi.spyOn(Date, "now");
    try {
      clock.mockReturnValue(exp * 1000 - 1);
      expect(await unseal("cursor", sealed, ring)).toMatchObject({ c: 1 });
      clock.mockReturnValue(exp * 1000);
      expect(await unseal("cursor", sealed, ring)).toBeUndefined();
    } finally {
      clock.mockRestore();
    }
  });

  it("an expired sealed value, or one whose exp is not a number, does not open", async () => {
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    expect(await unseal("session", await seal("session", { s: 1 }, ring, 60), ring)).toMatchObject({ s: 1 });
    expect(await unseal("session", await seal("session", { s: 1 }, ring, -1), ring)).toBeUndefined();
    expect(await unseal("session", await seal("session", { s: 1, exp: "later" }, ring), ring)).toBeUndefined();
  });
});

describe("the signing key ring of an isolate", () => {
  it("without HANDLE_SIGNING_JWKS: an ephemeral key in dev mode, none in production (nothing is signed)", async () => {
    expect(signingKeyRing({ signingJwks: undefined, devMode: false } as unknown as Config)).toBeUndefined();
    const dev = await signingKeyRing({ signingJwks: undefined, devMode: true } as unknown as Config);
    expect(dev?.signing.alg).toBe("EdDSA");
  });
});

describe("policy rules", () => {
  it("a handle's TTL: the origin's when under the cap, the cap when over, missing, zero, negative or not finite", () => {
    expect(effectiveTtlMs(5_000, 30)).toBe(5_000);
    expect(effectiveTtlMs(30_000, 30)).toBe(30_000);
    expect(effectiveTtlMs(30_001, 30)).toBe(30_000);
    expect(effectiveTtlMs(1, 30)).toBe(1);
    for (const unlimited of [null, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(effectiveTtlMs(unlimited, 30), String(unlimited)).toBe(30_000);
  });

  it("the TTL cap is the lower of the global and the tool's", () => {
    expect(ttlCapSeconds({ ...DEFAULT_TOOL_POLICY, maxTtlSeconds: 30 }, 86_400)).toBe(30);
    expect(ttlCapSeconds({ ...DEFAULT_TOOL_POLICY, maxTtlSeconds: 90_000 }, 86_400)).toBe(86_400);
    expect(ttlCapSeconds(DEFAULT_TOOL_POLICY, 600)).toBe(600);
  });

  it("operations by revision: policy ops limited to what the revision has", () => {
    expect(opsFor(DEFAULT_TOOL_POLICY, moduleFor("2025-11-25"))).toEqual(["get", "result", "cancel"]);
    // 2026-07-28 tasks/get can carry the result inline, so its handles carry `result` too (operations by effect).
    expect(opsFor(DEFAULT_TOOL_POLICY, moduleFor("2026-07-28"))).toEqual(["get", "result", "update", "cancel"]);
    expect(opsFor({ ...DEFAULT_TOOL_POLICY, ops: ["get", "update"] }, moduleFor("2025-11-25"))).toEqual(["get"]);
    expect(DEFAULT_TOOL_POLICY.stepUpOps).toEqual(["result", "cancel"]);
    expect(DEFAULT_TOOL_POLICY.bind).toEqual(["tenant", "client", "subject"]);
  });

  it("tools/list shows the policy's task support over whatever `execution` a hostile origin sent", () => {
    // The default says "optional": a tool without a name is left alone, not given the default.
    const policy = { default: { ...DEFAULT_TOOL_POLICY, taskSupport: "optional" as const }, tools: { locked: { taskSupport: "forbidden" as const } } };
    const result = {
      tools: [
        { name: "locked", execution: "not-an-object" },
        { name: "locked", execution: null },
        { name: "locked", execution: { taskSupport: "required", extra: 1 } },
        { name: "free", execution: { taskSupport: "required" } },
        { execution: { taskSupport: "required" } },
        null,
      ],
    };
    applyTaskSupportPolicy(result, policy);
    expect(result.tools).toEqual([
      { name: "locked", execution: { taskSupport: "forbidden" } },
      { name: "locked", execution: { taskSupport: "forbidden" } },
      { name: "locked", execution: { taskSupport: "forbidden", extra: 1 } },
      { name: "free", execution: { taskSupport: "optional" } },
      { execution: { taskSupport: "required" } },
      null,
    ]);
    const notAList = { tools: "x" };
    applyTaskSupportPolicy(notAList, policy);
    expect(notAList).toEqual({ tools: "x" });
  });

  it("a TASK_POLICY that lets handles cross tenants is refused, saying where", () => {
    expect(parseTaskPolicy(JSON.stringify({ tools: { x: { bind: ["client"] } } }))).toEqual({ problems: ["TASK_POLICY.tools.x.bind: must include tenant: handles never cross tenants"] });
    expect(parseTaskPolicy("{")).toEqual({ problems: ["TASK_POLICY is not JSON"] });
    for (const unset of [undefined, "", "  \n"]) expect(parseTaskPolicy(unset), JSON.stringify(unset)).toEqual({ policy: { default: DEFAULT_TOOL_POLICY, tools: {} } });
    expect(parseTaskPolicy(JSON.stringify({ tools: { x: { ops: ["get"], maxAuthAgeSeconds: 60 } } }))).toMatchObject({ policy: { tools: { x: { ops: ["get"], maxAuthAgeSeconds: 60 } } } });
  });
});

describe("/dev/token explains a bad body", () => {
  it("names the body itself when it is not an object, and the field otherwise", async () => {
    const post = (body: string) => worker().fetch("https://taskward.test/dev/token", { method: "POST", headers: { "content-type": "application/json" }, body });
    const notObject = await post("[]");
    expect(notObject.status).toBe(400);
    expect(((await notObject.json()) as { message: string }).message).toMatch(/^expected \{"tenant","client_id","sub"\[,"jkt" \| "dpop":true\]\}: body: /);
    const badField = await post(JSON.stringify({ tenant: "a b", client_id: "c", sub: "s" }));
    expect(((await badField.json()) as { message: string }).message).toBe('expected {"tenant","client_id","sub"[,"jkt" | "dpop":true]}: tenant: must be 1-200 characters of A-Z a-z 0-9 . _ : @ | + -');
  });
});
