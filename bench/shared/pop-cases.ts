/**
 * The per-call cost of proof of possession and origin assertions, next to today's per-call
 * crypto, interleaved round by round (see crypto-cases.ts):
 *
 *   edge, today     verifyHandle (the follow-up's handle signature, uncached)
 *   edge, added     verifyDpopProof (every request that carries a proof)
 *                   signOriginAssertion (every forwarded call; SHA-256 of the body + one signature)
 *   origin, today   verifyTaskHandle (the old Taskward-Task-Handle re-verification)
 *   origin, added   verifyOriginAssertion (signature, claims, body digest, op/task, replay cache)
 */
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { verifyDpopProof } from "../../src/auth/dpop.js";
import type { HandleAlgorithm } from "../../src/handle/claims.js";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/keyring.js";
import { mintHandle } from "../../src/handle/mint.js";
import { keyRingResolver } from "../../src/handle/resolve.js";
import { verifyHandle } from "../../src/handle/verify.js";
import { AssertionReplayCache, verifyOriginAssertion, verifyTaskHandle } from "../../src/origin/index.js";
import { signOriginAssertion } from "../../src/proxy/origin-assertion.js";
import { interleave, type CryptoBenchOptions, type VariantResult } from "./crypto-cases.js";

const ISSUER = "https://taskward.bench";
const AUDIENCE = "https://origin.bench/mcp";
const MCP_URL = `${ISSUER}/mcp`;
const TOKEN = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJlLW9mLWEtYmVuY2gtdG9rZW4";

export interface PopResult {
  alg: HandleAlgorithm;
  variants: VariantResult[];
}

export async function runPopBench(alg: HandleAlgorithm, options: CryptoBenchOptions): Promise<PopResult> {
  const ring = await loadKeyRing(await generateSigningJwks(alg));
  const publicJwks = ring.publicJwks;
  const task = "origin-task-7f3c2a9e-1b4d-4c8e-9a0f-5d6e7f8a9b0c";
  const { token: handle } = await mintHandle(
    { sub: "bench-user", tenant: "bench-tenant", client_id: "bench-client", task, tool: "bench_tool", ops: ["get", "result", "cancel"], mcp: "2025-11-25", exp: Math.floor(Date.now() / 1000) + 3600 },
    { keyRing: ring, issuer: ISSUER, audience: AUDIENCE },
  );
  const resolveKey = keyRingResolver(ring);
  const body = new TextEncoder().encode(JSON.stringify({ jsonrpc: "2.0", id: 42, method: "tasks/get", params: { taskId: task } }));
  const principal = { tenant: "bench-tenant", clientId: "bench-client", subject: "bench-user", authTime: 0, scopes: [], via: "dev" as const };

  // The client's DPoP key (ES256, the common client choice) and a pool of distinct proofs (jti differs).
  const client = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(client.publicKey);
  void (await calculateJwkThumbprint(jwk));
  const ath = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(TOKEN))).toString("base64url");
  const proofs: string[] = [];
  for (let i = 0; i < 512; i++) {
    proofs.push(await new SignJWT({ htm: "POST", htu: MCP_URL, ath }).setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk }).setJti(`j${i}`).setIssuedAt().sign(client.privateKey));
  }
  let next = 0;

  const assertionInput = { keyRing: ring, issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 60, principal, op: "get" as const, task, handleJti: "h", txn: "t", body };
  // Fresh assertions for the origin-side verifier (each jti accepted once by the replay cache).
  const assertions: string[] = [];
  for (let i = 0; i < 4096; i++) assertions.push(await signOriginAssertion(assertionInput));
  let nextAssertion = 0;
  let cache = new AssertionReplayCache();
  const originOptions = () => ({ issuer: ISSUER, audience: AUDIENCE, jwks: publicJwks, replayCache: cache });

  const variants = await interleave(
    [
      { name: "edge today: verifyHandle", run: () => verifyHandle(handle, { issuer: ISSUER, audience: AUDIENCE, resolveKey }) },
      { name: "edge added: verifyDpopProof (ES256 proof)", run: () => verifyDpopProof(proofs[next++ % proofs.length]!, { method: "POST", url: MCP_URL, accessToken: TOKEN, maxSkewSeconds: 300 }) },
      { name: "edge added: signOriginAssertion", run: () => signOriginAssertion(assertionInput) },
      { name: "origin today: verifyTaskHandle", run: () => verifyTaskHandle(handle, { issuer: ISSUER, audience: AUDIENCE, jwks: publicJwks }) },
      {
        name: "origin added: verifyOriginAssertion",
        run: () => {
          if (nextAssertion === assertions.length) {
            nextAssertion = 0;
            cache = new AssertionReplayCache();
          }
          return verifyOriginAssertion(assertions[nextAssertion++]!, { body }, originOptions());
        },
      },
    ],
    options,
  );
  return { alg, variants };
}
