/**
 * Item 2 in Node (WebCrypto): handle verification and minting vs raw WebCrypto, EdDSA and ES256.
 * Run by bench/run.mjs as `node --import tsx bench/node/crypto.ts [rounds] [roundMs]`; prints
 * one JSON document on stdout.
 */
import { performance } from "node:perf_hooks";
import { runCryptoBench } from "../shared/crypto-cases.js";

const rounds = Number(process.argv[2] ?? 8);
const roundMs = Number(process.argv[3] ?? 150);
const options = { rounds, roundMs, now: () => performance.now() };
const results = [];
for (const alg of ["EdDSA", "ES256"] as const) results.push(await runCryptoBench(alg, options));
process.stdout.write(`${JSON.stringify({ runtime: `node ${process.version}`, rounds, roundMs, results })}\n`);
