/**
 * DPoP test helpers: client keys, proofs built byte by byte (so hostile variants differ from a
 * valid proof in exactly one respect), DPoP-bound dev tokens, and a raw MCP session that sends a
 * fresh proof with every request.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { McpSession, readReply, signRaw, tag, worker, type Identity } from "../adversarial/support.js";
import type { RpcReply } from "../support/mcp-client.js";

export const MCP_URL = "https://taskward.test/mcp";
export const DPOP_CHALLENGE = 'DPoP error="invalid_dpop_proof", algs="EdDSA ES256"';

export interface DpopKey {
  alg: "ES256" | "EdDSA";
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function newDpopKey(alg: "ES256" | "EdDSA" = "ES256"): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, "sha256") };
}

export async function sha256B64url(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export interface ProofOptions {
  htm?: string;
  htu?: string;
  /** Seconds since epoch; default now. */
  iat?: number | string;
  jti?: string;
  /** The access token whose hash becomes `ath`. */
  accessToken?: string;
  /** Change the header after it is built. */
  header?: (h: Record<string, unknown>) => Record<string, unknown>;
  /** Change the claims after they are built. */
  claims?: (c: Record<string, unknown>) => Record<string, unknown>;
  /** Sign with another private key than the one the jwk names. */
  signWith?: CryptoKey;
}

/** A DPoP proof for POST https://taskward.test/mcp by `key`, with one thing changed if asked. */
export async function makeProof(key: DpopKey, options: ProofOptions = {}): Promise<string> {
  const header = (options.header ?? ((h) => h))({ typ: "dpop+jwt", alg: key.alg, jwk: key.publicJwk });
  const claims: Record<string, unknown> = {
    jti: options.jti ?? crypto.randomUUID(),
    htm: options.htm ?? "POST",
    htu: options.htu ?? MCP_URL,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
  };
  if (options.accessToken !== undefined) claims.ath = await sha256B64url(options.accessToken);
  return signRaw(header, (options.claims ?? ((c) => c))(claims), options.signWith ?? key.privateKey);
}

/** A dev-issuer access token bound to `jkt` (cnf.jkt). */
export async function boundToken(identity: Identity, jkt: string): Promise<string> {
  const response = await worker().fetch("https://taskward.test/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...identity, jkt }),
  });
  if (response.status !== 200) throw new Error(`dev token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** An MCP session (2025-11-25) whose every request carries `Authorization: DPoP` and a fresh proof by `key`. */
export class DpopSession {
  private nextId = 1;
  constructor(
    readonly key: DpopKey,
    readonly session: McpSession,
  ) {}

  static async open(identity: Identity, key: DpopKey, token?: string): Promise<DpopSession> {
    const accessToken = token ?? (await boundToken(identity, key.jkt));
    const dpop = new DpopSession(key, new McpSession(accessToken));
    const init = await dpop.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      clientInfo: { name: "taskward-dpop-test", version: "0" },
    });
    if (!init.reply?.result) throw new Error(`initialize failed: ${init.status} ${JSON.stringify(init.messages)}`);
    dpop.session.sessionId = init.headers.get("mcp-session-id") ?? undefined;
    await dpop.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    return dpop;
  }

  get token(): string {
    return this.session.token;
  }

  /** Headers with a fresh valid proof (or `proof` as given, or none when null). */
  async headers(proof?: string | null): Promise<Record<string, string>> {
    const value = proof === undefined ? await makeProof(this.key, { accessToken: this.token }) : proof;
    return { authorization: `DPoP ${this.token}`, ...(value === null ? {} : { dpop: value }) };
  }

  async post(body: unknown, proof?: string | null, extra: Record<string, string> = {}): Promise<Response> {
    return this.session.post(body, { ...(await this.headers(proof)), ...extra });
  }

  async request(method: string, params?: Record<string, unknown>, proof?: string | null, extra: Record<string, string> = {}): Promise<RpcReply & { id: string }> {
    const id = tag(`rq${this.nextId++}`);
    const response = await this.post({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) }, proof, extra);
    return { ...(await readReply(response, id)), id };
  }

  async createTask(name = "slow_echo", args: Record<string, unknown> = { text: "dpop", delayMs: 20 }): Promise<string> {
    const reply = await this.request("tools/call", { name, arguments: args, task: { ttl: 60_000 } });
    const handle = reply.reply?.result?.task?.taskId;
    if (typeof handle !== "string") throw new Error(`no task created: ${reply.status} ${JSON.stringify(reply.messages)}`);
    return handle;
  }
}
