/**
 * Handle verification and minting against raw WebCrypto on the same token and the same imported
 * key, interleaved round by round (A,B,C,A,B,C…) so drift hits every variant alike. Runtime
 * neutral (WebCrypto, jose, node:buffer under nodejs_compat): bench/node/crypto.ts runs it in
 * Node; the bench Worker can run it in workerd as a cross-check.
 */
import { Buffer } from "node:buffer";
import { SignJWT, jwtVerify } from "jose";
import { HANDLE_TYP, type HandleAlgorithm, type HandleGrant } from "../../src/handle/claims.js";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/keyring.js";
import { mintHandle } from "../../src/handle/mint.js";
import { keyRingResolver } from "../../src/handle/resolve.js";
import { verifyHandle } from "../../src/handle/verify.js";

const ISSUER = "https://taskward.bench";
const AUDIENCE = "https://origin.bench/mcp";

export interface CryptoBenchOptions {
  rounds: number;
  /** Target duration of one variant's share of a round. */
  roundMs: number;
  now: () => number;
}

export interface VariantResult {
  name: string;
  ops: number;
  ms: number;
  opsPerSec: number;
  /** ops/s of each round, to show the spread. */
  roundOpsPerSec: number[];
  latencyUs: { median: number; p99: number };
}

function signParams(alg: HandleAlgorithm): { name: string; hash?: string } {
  return alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
}

function grant(): HandleGrant {
  return {
    sub: "bench-user",
    tenant: "bench-tenant",
    client_id: "bench-client",
    task: "origin-task-7f3c2a9e-1b4d-4c8e-9a0f-5d6e7f8a9b0c",
    tool: "bench_tool",
    ops: ["get", "result", "cancel"],
    mcp: "2025-11-25",
    exp: Math.floor(Date.now() / 1000) + 3600,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Runs each variant for about roundMs per round, rounds times, interleaved. */
export async function interleave(variants: Array<{ name: string; run: () => Promise<unknown> }>, options: CryptoBenchOptions): Promise<VariantResult[]> {
  const { now } = options;
  // Warm up and calibrate: iterations per round from a short timed burst.
  const perRound = new Map<string, number>();
  for (const variant of variants) {
    for (let i = 0; i < 200; i++) await variant.run();
    const start = now();
    let n = 0;
    while (now() - start < 50) {
      await variant.run();
      n++;
    }
    perRound.set(variant.name, Math.max(20, Math.round((n / Math.max(1, now() - start)) * options.roundMs)));
  }
  const stats = new Map(variants.map((v) => [v.name, { ops: 0, ms: 0, rounds: [] as number[], latencies: [] as number[] }]));
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of variants) {
      const iterations = perRound.get(variant.name)!;
      const entry = stats.get(variant.name)!;
      const start = now();
      for (let i = 0; i < iterations; i++) {
        const t = now();
        await variant.run();
        entry.latencies.push(now() - t);
      }
      const ms = now() - start;
      entry.ops += iterations;
      entry.ms += ms;
      entry.rounds.push(Math.round((iterations / ms) * 1000));
    }
  }
  return variants.map((variant) => {
    const entry = stats.get(variant.name)!;
    const sorted = Float64Array.from(entry.latencies).sort();
    return {
      name: variant.name,
      ops: entry.ops,
      ms: Math.round(entry.ms),
      opsPerSec: Math.round((entry.ops / entry.ms) * 1000),
      roundOpsPerSec: entry.rounds,
      latencyUs: { median: Math.round(percentile(sorted, 50) * 10000) / 10, p99: Math.round(percentile(sorted, 99) * 10000) / 10 },
    };
  });
}

export interface AlgResult {
  alg: HandleAlgorithm;
  tokenLength: number;
  verify: VariantResult[];
  mint: VariantResult[];
}

export async function runCryptoBench(alg: HandleAlgorithm, options: CryptoBenchOptions): Promise<AlgResult> {
  const ring = await loadKeyRing(await generateSigningJwks(alg));
  const kid = ring.activeKid;
  const publicKey = ring.verifying.get(kid)!.key; // imported once, shared by every verifier below
  const privateKey = ring.signing.key;
  const params = signParams(alg);
  const { token } = await mintHandle(grant(), { keyRing: ring, issuer: ISSUER, audience: AUDIENCE });
  const resolveKey = keyRingResolver(ring);
  const encoder = new TextEncoder();

  const [headerPart, payloadPart, signaturePart] = token.split(".") as [string, string, string];
  const signingInput = encoder.encode(`${headerPart}.${payloadPart}`);

  const verify = await interleave(
    [
      {
        name: "verifyHandle (taskward)",
        run: () => verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey }),
      },
      {
        name: "raw WebCrypto verify + JSON.parse",
        run: async () => {
          const [h, p, s] = token.split(".") as [string, string, string];
          const ok = await crypto.subtle.verify(params, publicKey, Buffer.from(s, "base64url"), encoder.encode(`${h}.${p}`));
          if (!ok) throw new Error("signature");
          return JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
        },
      },
      {
        name: "jose jwtVerify (reference)",
        run: () => jwtVerify(token, publicKey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE }),
      },
    ],
    options,
  );

  const mintContext = { keyRing: ring, issuer: ISSUER, audience: AUDIENCE };
  const header = { alg, kid, typ: HANDLE_TYP };
  const mint = await interleave(
    [
      { name: "mintHandle (taskward, jose SignJWT)", run: () => mintHandle(grant(), mintContext) },
      {
        name: "jose SignJWT alone",
        run: () => new SignJWT({ ...grant(), iss: ISSUER, aud: AUDIENCE, iat: 0, jti: "x" }).setProtectedHeader(header).sign(privateKey),
      },
      {
        name: "raw: encode header+payload, subtle.sign",
        run: async () => {
          const claims = { ...grant(), iss: ISSUER, aud: AUDIENCE, iat: Math.floor(Date.now() / 1000), jti: "jti-0123456789abcdef" };
          const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
          const signature = await crypto.subtle.sign(params, privateKey, encoder.encode(input));
          return `${input}.${Buffer.from(signature).toString("base64url")}`;
        },
      },
      {
        name: "raw: subtle.sign of the same signing input",
        run: async () => {
          const signature = await crypto.subtle.sign(params, privateKey, signingInput);
          return `${headerPart}.${payloadPart}.${Buffer.from(signature).toString("base64url")}`;
        },
      },
    ],
    options,
  );
  void signaturePart;
  return { alg, tokenLength: token.length, verify, mint };
}
