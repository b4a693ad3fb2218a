/**
 * Hostile caller credentials: every bearer token taskward must not accept is refused with
 * 401 / -32001 and an RFC 9728 challenge, before anything reaches the origin. Tokens are built
 * with jose and the deployment's own test key (`inject("signingJwks")`) or a foreign one, each
 * differing from a valid dev token in one respect only (the control case shows the valid one).
 */
import { describe, expect, it } from "vitest";
import {
  DEV_ISSUER,
  RESOURCE,
  SignJWT,
  adminFetch,
  devToken,
  expectNothingForwarded,
  expectRpcRefusal,
  foreignKeyRing,
  freshIdentity,
  fromB64url,
  mcpHeaders,
  originMark,
  originReceived,
  ownedTask,
  rawPost,
  signHs256,
  signRaw,
  tag,
  testKeyRing,
  unsigned,
  worker,
  type Identity,
} from "./support.js";

const TENANT = "adv-callers";
const MISSING = "Authorization: Bearer credentials are required";
const INVALID = "The bearer token is invalid, expired or not for this resource";
const CHALLENGE = 'Bearer resource_metadata="https://taskward.test/.well-known/oauth-protected-resource"';
const INVALID_CHALLENGE = 'Bearer error="invalid_token", resource_metadata="https://taskward.test/.well-known/oauth-protected-resource"';

interface TokenOptions {
  identity?: Identity;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  drop?: string[];
  key?: CryptoKey;
}

/** A dev-issuer access token as the Worker mints it, with one thing changed. */
async function callerToken(options: TokenOptions = {}): Promise<string> {
  const ring = await testKeyRing();
  const identity = options.identity ?? freshIdentity(TENANT);
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    tenant: identity.tenant,
    client_id: identity.client_id,
    sub: identity.sub,
    auth_time: now,
    scope: "mcp",
    iss: DEV_ISSUER,
    aud: RESOURCE,
    iat: now,
    exp: now + 600,
    ...options.claims,
  };
  for (const name of options.drop ?? []) delete claims[name];
  const header = { alg: ring.signing.alg, kid: ring.signing.kid, typ: "at+jwt", ...options.header };
  return signRaw(header, claims, options.key ?? ring.signing.key);
}

/** A tasks/get for a tagged session with `authorization` (raw header value, or none). */
async function call(authorization: string | undefined, extra: Record<string, string> = {}) {
  const sessionTag = tag("sess");
  const id = tag("rq");
  const headers = mcpHeaders(undefined, sessionTag, extra);
  if (authorization !== undefined) headers.set("authorization", authorization);
  const mark = await originMark();
  const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params: {} }), headers);
  return { reply, mark, needles: [sessionTag, id] };
}

async function expectInvalidToken(authorization: string): Promise<void> {
  const { reply, mark, needles } = await call(authorization);
  expectRpcRefusal(reply, 401, -32001, INVALID);
  expect(reply.headers.get("www-authenticate")).toBe(INVALID_CHALLENGE);
  await expectNothingForwarded(mark, needles);
}

describe("control", () => {
  it("control: the test's own dev-token builder produces a token the Worker accepts", async () => {
    const { reply, mark, needles } = await call(`Bearer ${await callerToken()}`);
    // Accepted and forwarded (the tagged session does not exist at the origin, which answers 404).
    expect(reply.status).not.toBe(401);
    expect((await originReceived()).slice(mark).filter((m) => JSON.stringify(m).includes(needles[1]!))).toHaveLength(1);
  });
});

describe("missing or malformed credentials", () => {
  it("refuses a request without Authorization (401, challenge without error)", async () => {
    const { reply, mark, needles } = await call(undefined);
    expectRpcRefusal(reply, 401, -32001, MISSING);
    expect(reply.headers.get("www-authenticate")).toBe(CHALLENGE);
    await expectNothingForwarded(mark, needles);
  });

  it("refuses an empty Bearer credential", async () => {
    await expectInvalidToken("Bearer ");
  });

  it("refuses the Basic scheme", async () => {
    await expectInvalidToken(`Basic ${btoa("admin:test-admin-token")}`);
  });

  it("refuses two credentials in one header (Bearer a b)", async () => {
    await expectInvalidToken(`Bearer ${await callerToken()} ${await callerToken()}`);
  });

  it("refuses duplicate Authorization headers (combined by fetch)", async () => {
    const sessionTag = tag("sess");
    const headers = mcpHeaders(undefined, sessionTag);
    headers.append("authorization", `Bearer ${await callerToken()}`);
    headers.append("authorization", `Bearer ${await callerToken()}`);
    const mark = await originMark();
    const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), headers);
    expectRpcRefusal(reply, 401, -32001, INVALID);
    await expectNothingForwarded(mark, [sessionTag]);
  });

  it("refuses an oversized garbage bearer token (16 KB)", async () => {
    await expectInvalidToken(`Bearer ${"A".repeat(16_384)}`);
  });
});

describe("forged or misdirected access tokens", () => {
  it("refuses a token for another audience", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { aud: "https://other-resource.example/mcp" } })}`);
  });

  it("refuses a token whose audience is the origin (the handles' audience)", async () => {
    const origin = (await ownedTask(TENANT)).claims.aud as string;
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { aud: origin } })}`);
  });

  it("refuses an expired token", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { iat: now - 7200, exp: now - 3600 } })}`);
  });

  it("refuses a token that is not yet valid (nbf in the future)", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } })}`);
  });

  it("refuses an unsigned token (alg none)", async () => {
    const ring = await testKeyRing();
    const now = Math.floor(Date.now() / 1000);
    const claims = { tenant: TENANT, client_id: "c", sub: "s", iss: DEV_ISSUER, aud: RESOURCE, iat: now, exp: now + 600 };
    await expectInvalidToken(`Bearer ${unsigned({ alg: "none", kid: ring.signing.kid, typ: "at+jwt" }, claims)}`);
  });

  it("refuses a token from another issuer", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { iss: "https://evil.example/dev" } })}`);
  });

  it("refuses a token claiming the authority itself (not its dev issuer) as issuer", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { iss: "https://taskward.test" } })}`);
  });

  it("refuses a dev token signed by another deployment's key (its own kid)", async () => {
    const foreign = await foreignKeyRing();
    await expectInvalidToken(`Bearer ${await callerToken({ header: { kid: foreign.activeKid }, key: foreign.signing.key })}`);
  });

  it("refuses a dev token signed by another deployment's key under our kid", async () => {
    const foreign = await foreignKeyRing();
    await expectInvalidToken(`Bearer ${await callerToken({ key: foreign.signing.key })}`);
  });

  it("refuses an HS256 token keyed with the published public key", async () => {
    const ring = await testKeyRing();
    const now = Math.floor(Date.now() / 1000);
    const claims = { tenant: TENANT, client_id: "c", sub: "s", iss: DEV_ISSUER, aud: RESOURCE, iat: now, exp: now + 600 };
    await expectInvalidToken(`Bearer ${await signHs256({ alg: "HS256", kid: ring.signing.kid, typ: "at+jwt" }, claims, fromB64url(ring.publicJwks.keys[0]!.x!))}`);
  });

  it("refuses a correctly signed token with the task-handle typ", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ header: { typ: "mcp-task-handle+jwt" } })}`);
  });

  it("refuses a correctly signed token without typ", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ header: { typ: undefined } })}`);
  });

  it("refuses a token without a subject", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ drop: ["sub"] })}`);
  });

  it("refuses a token whose tenant is not an identifier", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ claims: { tenant: "acme/../globex" } })}`);
  });

  it("refuses a token without a tenant claim", async () => {
    await expectInvalidToken(`Bearer ${await callerToken({ drop: ["tenant"] })}`);
  });

  it("refuses a task handle used as a bearer token", async () => {
    const task = await ownedTask(TENANT);
    const { reply, mark, needles } = await call(`Bearer ${task.handle}`);
    expectRpcRefusal(reply, 401, -32001, INVALID);
    await expectNothingForwarded(mark, [...needles, task.handle, task.originTaskId]);
  });

  it("refuses a well-formed API key that was never issued", async () => {
    const forged = `twk_${btoa(TENANT).replace(/=+$/, "")}.0123456789abcdef.${"A".repeat(43)}`;
    await expectInvalidToken(`Bearer ${forged}`);
  });

  it("refuses a real API key presented for another tenant", async () => {
    const created = await adminFetch(`/tenants/${TENANT}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: tag("m2m"), sub: tag("svc") }) });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const [, id, secret] = key.split(".");
    await expectInvalidToken(`Bearer twk_${btoa("adv-callers-other").replace(/=+$/, "")}.${id}.${secret}`);
  });
});

describe("other surfaces", () => {
  it("refuses GET /mcp (the SSE stream) without credentials", async () => {
    const sessionTag = tag("sess");
    const mark = await originMark();
    const response = await worker().fetch("https://taskward.test/mcp", { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": sessionTag } });
    expectRpcRefusal({ status: response.status, body: await response.json() }, 401, -32001, MISSING);
    await expectNothingForwarded(mark, [sessionTag]);
  });

  it("refuses DELETE /mcp (session end) with a task handle as credential", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const response = await worker().fetch("https://taskward.test/mcp", { method: "DELETE", headers: { authorization: `Bearer ${task.handle}`, "mcp-session-id": task.session.sessionId! } });
    expectRpcRefusal({ status: response.status, body: await response.json() }, 401, -32001, INVALID);
    await expectNothingForwarded(mark, [task.session.sessionId!, task.handle]);
    // The session still works for its owner.
    expect((await task.session.request("tools/list", {})).status).toBe(200);
  });

  it("refuses the admin API with an MCP caller token", async () => {
    const token = await devToken(freshIdentity(TENANT));
    const response = await adminFetch(`/tenants/${TENANT}/audit`, {}, token);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "admin_unauthorized", message: "A valid admin credential is required" });
  });

  it("refuses the admin API with a prefix of the admin token", async () => {
    const response = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant: TENANT, scope: "tenant" }) }, "test-admin-toke");
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "admin_unauthorized", message: "A valid admin credential is required" });
  });

  it("refuses /introspect with a task handle as its credential", async () => {
    const task = await ownedTask(TENANT);
    const response = await rawPost(`token=${encodeURIComponent(task.handle)}`, { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${task.handle}` }, "/introspect");
    expect(response.status).toBe(401);
  });
});
