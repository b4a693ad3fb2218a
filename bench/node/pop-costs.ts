/**
 * Item 6 in Node: the per-call cost of DPoP verification and origin assertions beside today's
 * per-call crypto, EdDSA and ES256 server keys. Run by bench/run.mjs as
 * `node --import tsx bench/node/pop-costs.ts [rounds] [roundMs]`; prints one JSON document.
 */
import { performance } from "node:perf_hooks";
import { runPopBench } from "../shared/pop-cases.js";

const rounds = Number(process.argv[2] ?? 8);
const roundMs = Number(process.argv[3] ?? 150);
const options = { rounds, roundMs, now: () => performance.now() };
const results = [];
for (const alg of ["EdDSA", "ES256"] as const) results.push(await runPopBench(alg, options));
process.stdout.write(`${JSON.stringify({ runtime: `node ${process.version}`, rounds, roundMs, results })}\n`);
