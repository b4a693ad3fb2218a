/**
 * Hostile DPoP (RFC 9449) callers: each case differs from a valid proof-carrying request in one
 * respect and must be refused exactly — 401 / -32001 with the DPoP challenge for a bad proof,
 * -32602 "Task not found" (audited with the real reason) for a key-bound handle used without its
 * key — and nothing may reach the origin. RFC 9449 §11 attacks: proof replay (§11.1), proofs
 * pre-generated for later (§11.2), proofs for another endpoint (§11.5), plus alg confusion, private
 * keys in the header, htu tricks, clock skew both ways, ath and key substitution.
 */
import { describe, expect, it } from "vitest";
import {
  McpSession,
  NOT_FOUND,
  devToken,
  expectAuditedDenial,
  expectNothingForwarded,
  expectRpcRefusal,
  freshIdentity,
  mcpHeaders,
  originMark,
  originReceived,
  originTaskIdOf,
  rawPost,
  readReply,
  signHs256,
  tag,
  unsigned,
  worker,
  type Identity,
} from "./support.js";
import { DPOP_CHALLENGE, DpopSession, MCP_URL, boundToken, makeProof, newDpopKey, type DpopKey, type ProofOptions } from "../dpop/support.js";

const TENANT = "adv-dpop";
const BAD_PROOF = "The DPoP proof is missing, invalid, replayed or not by the key the token is bound to";
const BEARER = 'Bearer resource_metadata="https://taskward.test/.well-known/oauth-protected-resource"';

interface Caller {
  identity: Identity;
  key: DpopKey;
  token: string;
}

async function boundCaller(): Promise<Caller> {
  const identity = freshIdentity(TENANT);
  const key = await newDpopKey();
  return { identity, key, token: await boundToken(identity, key.jkt) };
}

/** A tools/list in a tagged session with the given Authorization and DPoP header values (null = absent). */
async function send(authorization: string, proof: string | null, extraProof?: string) {
  const sessionTag = tag("sess");
  const id = tag("rq");
  const headers = mcpHeaders(undefined, sessionTag);
  headers.set("authorization", authorization);
  if (proof !== null) headers.set("dpop", proof);
  if (extraProof !== undefined) headers.append("dpop", extraProof);
  const mark = await originMark();
  const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params: {} }), headers);
  return { reply, mark, needles: [sessionTag, id] };
}

/** `replay`: the jti check runs once the request is read, so that refusal echoes the request id. */
async function expectProofRefused(authorization: string, proof: string | null, extraProof?: string, replay = false): Promise<void> {
  const { reply, mark, needles } = await send(authorization, proof, extraProof);
  expectRpcRefusal(reply, 401, -32001, BAD_PROOF, replay ? needles[1] : null);
  expect(reply.headers.get("www-authenticate")).toBe(`${BEARER}, ${DPOP_CHALLENGE}`);
  await expectNothingForwarded(mark, needles);
}

async function expectForwarded(authorization: string, proof: string | null): Promise<void> {
  const { reply, mark, needles } = await send(authorization, proof);
  expect(reply.status).not.toBe(401);
  expect((await originReceived()).slice(mark).filter((m) => JSON.stringify(m).includes(needles[1]!))).toHaveLength(1);
}

/** A bound caller's request with a proof built with `options` (ath of its own token unless overridden). */
async function withProof(options: ProofOptions = {}, caller?: Caller) {
  const c = caller ?? (await boundCaller());
  return { authorization: `DPoP ${c.token}`, proof: await makeProof(c.key, { accessToken: c.token, ...options }) };
}

describe("control", () => {
  it("control: a bound token with a valid proof is accepted and forwarded", async () => {
    const { authorization, proof } = await withProof();
    await expectForwarded(authorization, proof);
  });

  it("control: an unbound token with a valid proof (Bearer scheme) is accepted", async () => {
    const identity = freshIdentity(TENANT);
    const token = await devToken(identity);
    await expectForwarded(`Bearer ${token}`, await makeProof(await newDpopKey("EdDSA"), { accessToken: token }));
  });
});

describe("metadata", () => {
  it("advertises the DPoP algorithms and whether bound tokens are required (RFC 9728 / RFC 9449 §5.1)", async () => {
    const response = await worker().fetch("https://taskward.test/.well-known/oauth-protected-resource");
    expect(await response.json()).toMatchObject({ dpop_signing_alg_values_supported: ["EdDSA", "ES256"], dpop_bound_access_tokens_required: false });
  });
});

describe("token binding (RFC 9449 §7)", () => {
  it("refuses a bound token without a proof (DPoP scheme)", async () => {
    const c = await boundCaller();
    await expectProofRefused(`DPoP ${c.token}`, null);
  });

  it("refuses a bound token sent with the Bearer scheme and no proof", async () => {
    const c = await boundCaller();
    await expectProofRefused(`Bearer ${c.token}`, null);
  });

  it("refuses a bound token sent with the Bearer scheme even with a valid proof (§7.2)", async () => {
    const c = await boundCaller();
    await expectProofRefused(`Bearer ${c.token}`, await makeProof(c.key, { accessToken: c.token }));
  });

  it("refuses a proof by another key than the token is bound to", async () => {
    const c = await boundCaller();
    await expectProofRefused(`DPoP ${c.token}`, await makeProof(await newDpopKey(), { accessToken: c.token }));
  });

  it("refuses the DPoP scheme with an unbound token and no proof", async () => {
    await expectProofRefused(`DPoP ${await devToken(freshIdentity(TENANT))}`, null);
  });
});

describe("algorithm confusion and key material", () => {
  it("refuses alg none", async () => {
    const c = await boundCaller();
    const now = Math.floor(Date.now() / 1000);
    const proof = unsigned({ typ: "dpop+jwt", alg: "none", jwk: c.key.publicJwk }, { jti: tag("j"), htm: "POST", htu: MCP_URL, iat: now });
    await expectProofRefused(`DPoP ${c.token}`, proof);
  });

  it("refuses HS256 keyed with a symmetric jwk (k)", async () => {
    const c = await boundCaller();
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const now = Math.floor(Date.now() / 1000);
    const proof = await signHs256({ typ: "dpop+jwt", alg: "HS256", jwk: { kty: "oct", k: "c2VjcmV0" } }, { jti: tag("j"), htm: "POST", htu: MCP_URL, iat: now }, secret);
    await expectProofRefused(`DPoP ${c.token}`, proof);
  });

  it("refuses a jwk that carries its private part (d)", async () => {
    const c = await boundCaller();
    const { d } = (await crypto.subtle.exportKey("jwk", c.key.privateKey)) as { d: string };
    const { authorization, proof } = await withProof({ header: (h) => ({ ...h, jwk: { ...c.key.publicJwk, d } }) }, c);
    await expectProofRefused(authorization, proof);
  });

  it("refuses alg ES256 with an Ed25519 jwk (key-type confusion)", async () => {
    const c = await boundCaller();
    const ed = await newDpopKey("EdDSA");
    await expectProofRefused(`DPoP ${c.token}`, await makeProof(ed, { accessToken: c.token, header: (h) => ({ ...h, alg: "ES256" }) }));
  });

  it("refuses a proof signed by another key than its jwk (key substitution)", async () => {
    const c = await boundCaller();
    await expectProofRefused(`DPoP ${c.token}`, await makeProof(c.key, { accessToken: c.token, signWith: (await newDpopKey()).privateKey }));
  });

  it("refuses a proof without a jwk header, even naming a kid", async () => {
    const { authorization, proof } = await withProof({ header: ({ jwk: _jwk, ...h }) => ({ ...h, kid: "k1" }) });
    await expectProofRefused(authorization, proof);
  });

  it("refuses typ JWT and a missing typ", async () => {
    const { authorization, proof } = await withProof({ header: (h) => ({ ...h, typ: "JWT" }) });
    await expectProofRefused(authorization, proof);
    const second = await withProof({ header: ({ typ: _typ, ...h }) => h });
    await expectProofRefused(second.authorization, second.proof);
  });

  it("refuses the access token itself presented as the proof", async () => {
    const c = await boundCaller();
    await expectProofRefused(`DPoP ${c.token}`, c.token);
  });

  it("refuses two DPoP headers (one valid)", async () => {
    const c = await boundCaller();
    await expectProofRefused(`DPoP ${c.token}`, await makeProof(c.key, { accessToken: c.token }), await makeProof(c.key, { accessToken: c.token }));
  });
});

describe("htm and htu", () => {
  it("refuses htm GET on a POST, and a lowercase post", async () => {
    const a = await withProof({ htm: "GET" });
    await expectProofRefused(a.authorization, a.proof);
    const b = await withProof({ htm: "post" });
    await expectProofRefused(b.authorization, b.proof);
  });

  it("refuses htu with a query", async () => {
    const { authorization, proof } = await withProof({ htu: `${MCP_URL}?x=1` });
    await expectProofRefused(authorization, proof);
  });

  it("refuses htu with a fragment", async () => {
    const { authorization, proof } = await withProof({ htu: `${MCP_URL}#frag` });
    await expectProofRefused(authorization, proof);
  });

  it("refuses htu naming another host, another path, another port or another path case", async () => {
    for (const htu of ["https://evil.example/mcp", "https://taskward.test/mcp/other", "https://taskward.test:8443/mcp", "https://taskward.test/MCP", "http://taskward.test/mcp"]) {
      const { authorization, proof } = await withProof({ htu });
      await expectProofRefused(authorization, proof);
    }
  });

  it("refuses a proof made for the token endpoint replayed at /mcp (§11.5)", async () => {
    const { authorization, proof } = await withProof({ htu: "https://taskward.test/dev/token" });
    await expectProofRefused(authorization, proof);
  });

  it("accepts htu that differs only by scheme/host case and the default port (RFC 3986 normalisation)", async () => {
    const { authorization, proof } = await withProof({ htu: "HTTPS://TASKWARD.TEST:443/mcp" });
    await expectForwarded(authorization, proof);
  });
});

describe("iat window and replay (§11.1, §11.2)", () => {
  it("refuses iat 301 s in the past and 301 s in the future (pre-generated proofs)", async () => {
    // Each iat is taken right before its proof is signed (the caller is made first): a stale `now`
    // would bring the future proof inside the window on a slow machine.
    const seconds = () => Math.floor(Date.now() / 1000);
    const pastCaller = await boundCaller();
    const past = await withProof({ iat: seconds() - 301 }, pastCaller);
    await expectProofRefused(past.authorization, past.proof);
    const futureCaller = await boundCaller();
    const future = await withProof({ iat: seconds() + 301 }, futureCaller);
    await expectProofRefused(future.authorization, future.proof);
  });

  it("accepts iat 290 s in the past", async () => {
    const { authorization, proof } = await withProof({ iat: Math.floor(Date.now() / 1000) - 290 });
    await expectForwarded(authorization, proof);
  });

  it("refuses a non-numeric iat and a missing jti", async () => {
    const a = await withProof({ iat: String(Math.floor(Date.now() / 1000)) });
    await expectProofRefused(a.authorization, a.proof);
    const b = await withProof({ claims: ({ jti: _jti, ...c }) => c });
    await expectProofRefused(b.authorization, b.proof);
  });

  it("refuses a replayed proof: accepted once, refused the second time", async () => {
    const { authorization, proof } = await withProof();
    await expectForwarded(authorization, proof);
    await expectProofRefused(authorization, proof, undefined, true);
  });

  it("refuses a proof spent on a follow-up when replayed for another call", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const handle = await session.createTask();
    const proof = await makeProof(c.key, { accessToken: c.token });
    const first = await session.request("tasks/get", { taskId: handle }, proof);
    expect(first.reply?.result?.status).toBeTypeOf("string");
    await expectProofRefused(`DPoP ${c.token}`, proof, undefined, true);
  });
});

describe("replay inside the follow-up decision", () => {
  it("refuses a follow-up whose proof was already spent, in the ledger's authorize (audited dpop_replay), and forwards nothing", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const handle = await session.createTask();
    const proof = await makeProof(c.key, { accessToken: c.token });
    await expectForwarded(`DPoP ${c.token}`, proof);
    const mark = await originMark();
    const replayed = await session.request("tasks/get", { taskId: handle }, proof);
    expectRpcRefusal({ status: replayed.status, body: replayed.reply }, 401, -32001, BAD_PROOF, replayed.id);
    await expectNothingForwarded(mark, [replayed.id, handle]);
    await expectAuditedDenial(TENANT, c.identity.sub, "dpop_replay");
  });
});

describe("ath", () => {
  it("refuses a proof without ath", async () => {
    const { authorization, proof } = await withProof({ claims: ({ ath: _ath, ...c }) => c });
    await expectProofRefused(authorization, proof);
  });

  it("refuses a proof whose ath is another token's hash", async () => {
    const { authorization, proof } = await withProof({ accessToken: "some-other-access-token" });
    await expectProofRefused(authorization, proof);
  });
});

describe("key-bound handles", () => {
  /** Follow-up `tasks/get` of `handle` from `session` with `headers`: refused as an unknown task, nothing forwarded. */
  async function expectNotFound(session: McpSession, handle: string, headers: Record<string, string>): Promise<void> {
    const mark = await originMark();
    const id = tag("rq");
    const reply = await readReply(await session.post({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: handle } }, headers), id);
    expect({ status: reply.status, error: reply.reply?.error }).toEqual({ status: 200, error: NOT_FOUND });
    await expectNothingForwarded(mark, [id, handle]);
  }

  it("mints the handle with cnf.jkt of the creating caller's key", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const handle = await session.createTask();
    const claims = JSON.parse(atob(handle.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(claims.cnf).toEqual({ jkt: c.key.jkt });
    const polled = await session.request("tasks/get", { taskId: handle });
    expect(polled.reply?.result?.taskId).toBe(handle);
  });

  it("refuses the bound handle to the same principal with an unbound token and no proof (audited dpop_proof_missing)", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const handle = await session.createTask();
    const plain = new McpSession(await devToken(c.identity));
    plain.sessionId = session.session.sessionId;
    await expectNotFound(plain, handle, {});
    await expectAuditedDenial(TENANT, c.identity.sub, "dpop_proof_missing");
  });

  it("refuses the bound handle with an unbound token and a valid proof by another key (audited dpop_key_mismatch)", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const handle = await session.createTask();
    const token = await devToken(c.identity);
    const plain = new McpSession(token);
    plain.sessionId = session.session.sessionId;
    await expectNotFound(plain, handle, { dpop: await makeProof(await newDpopKey(), { accessToken: token }) });
    await expectAuditedDenial(TENANT, c.identity.sub, "dpop_key_mismatch");
  });

  it("an unbound caller that proves a key gets a handle only that key opens", async () => {
    const identity = freshIdentity(TENANT);
    const key = await newDpopKey("EdDSA");
    const token = await devToken(identity);
    const session = await DpopSession.open(identity, key, token);
    const handle = await session.createTask();
    const without = new McpSession(token);
    without.sessionId = session.session.sessionId;
    await expectNotFound(without, handle, {});
    const polled = await session.request("tasks/get", { taskId: handle }, undefined, { authorization: `Bearer ${token}` });
    expect(polled.reply?.result?.taskId).toBe(handle);
  });
});

describe("key-bound handles in related-task metadata", () => {
  it("strips a key-bound handle from related-task in a client response sent without the key's proof", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const handle = await session.createTask();
    const originTask = await originTaskIdOf(handle);
    const plain = new McpSession(await devToken(c.identity));
    plain.sessionId = session.session.sessionId;
    const mark = await originMark();
    const id = tag("resp");
    const response = await plain.post({ jsonrpc: "2.0", id, result: { content: [], _meta: { "io.modelcontextprotocol/related-task": { taskId: handle } } } });
    expect(response.status).toBeLessThan(500);
    const forwarded = (await originReceived()).slice(mark).filter((m) => JSON.stringify(m).includes(id));
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.taskId).toBeUndefined();
    await expectNothingForwarded(mark, [handle, originTask]);
  });
});

describe("key-bound handles at the token endpoints", () => {
  it("refuses to delegate a key-bound handle for a caller without the key's proof (no unbound copy can be made)", async () => {
    const identity = freshIdentity(TENANT);
    const key = await newDpopKey();
    const token = await devToken(identity);
    const session = await DpopSession.open(identity, key, token);
    const handle = await session.createTask();
    // The token alone (stolen without the key) asks for a copy of the handle for the same principal.
    const response = await worker().fetch("https://taskward.test/delegations", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ taskId: handle, to: { client_id: identity.client_id, sub: identity.sub } }),
    });
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 404, body: { error: "not_found", message: "Task not found" } });
    // With the key's proof the owner still may.
    const proven = await worker().fetch("https://taskward.test/delegations", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, dpop: await makeProof(key, { accessToken: token, htu: "https://taskward.test/delegations" }) },
      body: JSON.stringify({ taskId: handle, to: { client_id: identity.client_id, sub: tag("delegate") } }),
    });
    expect(proven.status).toBe(201);
  });
});

describe("policy requireProofOfPossession", () => {
  it("refuses a call of a PoP-only tool without a proof (401 DPoP challenge) and forwards nothing", async () => {
    const identity = freshIdentity(TENANT);
    const session = await McpSession.open(identity);
    const mark = await originMark();
    const id = tag("rq");
    const response = await session.post({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "pop_echo", arguments: {}, task: { ttl: 60_000 } } });
    const reply = { status: response.status, headers: response.headers, body: await response.json() };
    expectRpcRefusal(reply, 401, -32001, "This call requires a DPoP proof of possession", id);
    expect(reply.headers.get("www-authenticate")).toBe(`${BEARER}, DPoP algs="EdDSA ES256"`);
    await expectNothingForwarded(mark, [id]);
  });

  it("forwards the same call with a proof", async () => {
    const c = await boundCaller();
    const session = await DpopSession.open(c.identity, c.key, c.token);
    const mark = await originMark();
    const reply = await session.request("tools/call", { name: "pop_echo", arguments: {} });
    expect(reply.status).toBe(200);
    expect((await originReceived()).slice(mark).filter((m) => JSON.stringify(m).includes(reply.id))).toHaveLength(1);
  });
});
