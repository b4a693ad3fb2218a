/**
 * Where verifyHandle's time goes beyond raw WebCrypto (evidence for docs/benchmarks.md, item 2):
 * the pieces of the verification path timed alone, interleaved, in Node. Also the workload for
 * `node --cpu-prof --import tsx bench/node/verify-breakdown.ts profile`.
 *
 *   node --import tsx bench/node/verify-breakdown.ts [rounds] [iterations]
 */
import { Buffer } from "node:buffer";
import { performance } from "node:perf_hooks";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { HANDLE_ALGORITHMS, HANDLE_TYP, type HandleAlgorithm } from "../../src/handle/claims.js";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/keyring.js";
import { mintHandle } from "../../src/handle/mint.js";
import { keyRingResolver } from "../../src/handle/resolve.js";
import { verifyHandle } from "../../src/handle/verify.js";

const ISSUER = "https://taskward.bench";
const AUDIENCE = "https://origin.bench/mcp";
const profileOnly = process.argv[2] === "profile";
const rounds = profileOnly ? 1 : Number(process.argv[2] ?? 10);
const iterations = profileOnly ? 20_000 : Number(process.argv[3] ?? 400);

async function cases(alg: HandleAlgorithm) {
  const ring = await loadKeyRing(await generateSigningJwks(alg));
  const key = ring.verifying.get(ring.activeKid)!.key;
  const params = alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
  const { token } = await mintHandle(
    { sub: "u", tenant: "t", client_id: "c", task: "origin-task-7f3c2a9e-1b4d-4c8e-9a0f-5d6e7f8a9b0c", tool: "bench_tool", ops: ["get", "result", "cancel"], mcp: "2025-11-25", exp: Math.floor(Date.now() / 1000) + 3600 },
    { keyRing: ring, issuer: ISSUER, audience: AUDIENCE },
  );
  const resolveKey = keyRingResolver(ring);
  const encoder = new TextEncoder();
  const [h, p, s] = token.split(".") as [string, string, string];
  const input = encoder.encode(`${h}.${p}`);
  const signature = Buffer.from(s, "base64url");
  const nowSeconds = Math.floor(Date.now() / 1000);
  return {
    token,
    list: [
      { name: "subtle.verify only (precomputed bytes)", run: () => crypto.subtle.verify(params, key, signature, input) },
      {
        name: "raw: split + b64 + subtle.verify + JSON.parse",
        run: async () => {
          const [a, b, c] = token.split(".") as [string, string, string];
          await crypto.subtle.verify(params, key, Buffer.from(c, "base64url"), encoder.encode(`${a}.${b}`));
          return JSON.parse(Buffer.from(b, "base64url").toString("utf8"));
        },
      },
      { name: "jose jwtVerify, minimal options", run: () => jwtVerify(token, key, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE }) },
      {
        name: "jose jwtVerify, verifyHandle's options",
        run: () =>
          jwtVerify(token, key, {
            algorithms: [...HANDLE_ALGORITHMS],
            typ: HANDLE_TYP,
            issuer: ISSUER,
            audience: AUDIENCE,
            clockTolerance: 0,
            currentDate: new Date(nowSeconds * 1000),
            requiredClaims: ["iss", "aud", "sub", "jti", "iat", "exp"],
          }),
      },
      { name: "decodeProtectedHeader + regex (inspectHeader's parse)", run: async () => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) && decodeProtectedHeader(token) },
      { name: "verifyHandle", run: () => verifyHandle(token, { issuer: ISSUER, audience: AUDIENCE, resolveKey }) },
    ],
  };
}

const out: Record<string, unknown> = {};
for (const alg of ["EdDSA", "ES256"] as const) {
  const all = (await cases(alg)).list;
  // The profile workload is verifyHandle alone, so the profile shows only its own path.
  const list = profileOnly ? all.filter((c) => c.name === "verifyHandle") : all;
  const lat = new Map(list.map((c) => [c.name, [] as number[]]));
  for (const c of list) for (let i = 0; i < 300; i++) await c.run();
  for (let r = 0; r < rounds; r++) {
    for (const c of list) {
      for (let i = 0; i < iterations; i++) {
        const t = performance.now();
        await c.run();
        lat.get(c.name)!.push(performance.now() - t);
      }
    }
  }
  out[alg] = Object.fromEntries(
    [...lat.entries()].map(([name, values]) => {
      const sorted = Float64Array.from(values).sort();
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return [name, { medianUs: Math.round(sorted[Math.floor(sorted.length / 2)]! * 10000) / 10, meanUs: Math.round(mean * 10000) / 10 }];
    }),
  );
}
process.stdout.write(`${JSON.stringify(out)}\n`);
