#!/usr/bin/env node
/**
 * `npm run bench`: taskward's benchmark harness (issue 6). Bounded (about 4–5 minutes on a
 * 2-core machine). Every figure is a ratio against a baseline measured side by side in the same
 * run, interleaved (A,B,C,A,B,C…) so drift hits all alike. Writes bench/results/latest.json and
 * prints a table. Method and findings: docs/benchmarks.md.
 *
 *   node bench/run.mjs            the full run
 *   node bench/run.mjs --quick    short everything (for developing the harness; figures are noise)
 *   node bench/run.mjs --profile  also CPU profiles: the Worker isolate under tasks/get load and under an
 *                                 authorize loop, and node --cpu-prof of verifyHandle and SSE rewriting
 *                                 (bench/results/*.cpuprofile, summarized in latest.json)
 *   node bench/run.mjs --report-only   re-derive cost model and verdicts from latest.json, print the table
 *   node bench/run.mjs --compare-ref <git ref>   also bundle that commit's Worker and time its isolate start,
 *                                 interleaved with the working tree's (item 7 side by side)
 *   node bench/run.mjs --bundle-only   item 7 alone (bundle size and isolate start), printed as JSON
 *   node bench/run.mjs --follow-up-only [--compare-ref <ref>] [--profile] [--out <file>]   item 1 alone; with a ref,
 *                                 that commit's Worker runs in a second wrangler dev and its /mcp is interleaved request by
 *                                 request (and round by round under load) with the working tree's (default out: bench/results/follow-up.json);
 *                                 workerd CPU per request is kept per round and compared round by round (cpuMsPerRequestDelta);
 *                                 with --profile the isolate is profiled under /mcp load and under /noop/mcp load
 *   BENCH_TPUT_ROUNDS=<n>         throughput rounds per target (default 4): more rounds, tighter paired CPU differences
 *
 * Phase A (Node, nothing else of ours running): handle crypto vs raw WebCrypto; DPoP proof
 * verification and origin assertions per call beside today's per-call crypto (item 6); SSE rewriting.
 * Phase B (wrangler dev + the fake origin): the follow-up path vs a bare proxy and a no-op-DO
 * proxy; the ledger vs a no-op DO RPC, also with 100k stored tasks; tasks/list with 10k tasks.
 * Item 7 (Node): the deployable bundle's gzip -9 size and its isolate start (bench/lib/bundle.mjs).
 * Item 8 (Node): CPU per stage of one follow-up, with the real src/ functions (bench/node/stages.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { interleavedLatency, post, postJson, throughputTool } from "./lib/http-load.mjs";
import { loadAverage, machineInfo, processCpuMs } from "./lib/machine.mjs";
import { profileDuring, profileWorker, summarizeProfile } from "./lib/profile.mjs";
import { measureBundles, treeAtRef } from "./lib/bundle.mjs";
import { startStack } from "./lib/stack.mjs";
import { median, percentile, ratio, round, summarize } from "./lib/stats.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** --quick figures are noise: they go to quick.json and never replace the reported latest.json. */
const RESULTS_FILE = process.argv.includes("--quick") ? "bench/results/quick.json" : "bench/results/latest.json";
const QUICK = process.argv.includes("--quick");
/** Re-derive the cost model and target verdicts from bench/results/latest.json and print the table; measures nothing. */
const REPORT_ONLY = process.argv.includes("--report-only");
const PROFILE = process.argv.includes("--profile");
const BUNDLE_ONLY = process.argv.includes("--bundle-only");
/** Item 1 alone (the follow-up path), beside --compare-ref's Worker when given. */
const FOLLOW_UP_ONLY = process.argv.includes("--follow-up-only");
const OUT_FILE = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1] : undefined;
/** Another commit whose Worker bundle is measured beside the working tree's (item 7). */
const COMPARE_REF = process.argv.includes("--compare-ref") ? process.argv[process.argv.indexOf("--compare-ref") + 1] : undefined;

/** Sizes of the run. The full run is what docs/benchmarks.md reports. */
const SIZES = QUICK
  ? { cryptoRounds: 3, cryptoRoundMs: 60, sseEvents: 20_000, sseRounds: 2, sseMemory: [10_000, 100_000], firstByte: 300, latencyN: 60, latencyWarmup: 20, tputRounds: 2, tputSeconds: 1, ledgerRounds: 2, ledgerSeqN: 60, ledgerConcN: 200, onceN: 40, seed100k: 20_000, seedList: 10_000, listN: 20, workerdCryptoRounds: 2 }
  : { cryptoRounds: 12, cryptoRoundMs: 150, sseEvents: 100_000, sseRounds: 4, sseMemory: [10_000, 100_000, 1_000_000], firstByte: 2_000, latencyN: 600, latencyWarmup: 100, tputRounds: Number(process.env.BENCH_TPUT_ROUNDS ?? 4), tputSeconds: 2.5, ledgerRounds: 6, ledgerSeqN: 100, ledgerConcN: 400, onceN: 300, seed100k: 100_000, seedList: 10_000, listN: 100, workerdCryptoRounds: 6 };

const IDENTITY = { tenant: "bench", client_id: "bench-client", sub: "bench-user" };
const LIST_IDENTITY = { tenant: "bench-list", client_id: "list-client", sub: "list-user" };
const MCP_HEADERS = { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" };

const startedAt = new Date();
const t0 = Date.now();
const loads = [{ at: "start", seconds: 0, load: loadAverage() }];
const noteLoad = (at) => loads.push({ at, seconds: Math.round((Date.now() - t0) / 1000), load: loadAverage() });
const log = (message) => process.stderr.write(`[bench ${String(Math.round((Date.now() - t0) / 1000)).padStart(3)}s] ${message}\n`);

// ---------------------------------------------------------------- helpers

/** Runs `node [flags] --import tsx file args…` and parses the JSON line it prints. */
function nodeScript(file, args, flags = []) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...flags, "--import", "tsx", join(ROOT, file), ...args.map(String)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${file} ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`));
      try {
        resolvePromise(JSON.parse(out.trim().split("\n").pop()));
      } catch (error) {
        reject(new Error(`${file}: no JSON on stdout (${error.message}): ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
  });
}

/** Median, min and max of per-round figures. */
function pairedSummary(list, digits = 3) {
  return { median: round(median(list), digits), min: round(Math.min(...list), digits), max: round(Math.max(...list), digits) };
}

/** Median of per-round ratios a/b: rounds are adjacent in time, so drift cancels pairwise. */
function pairedRatio(a, b) {
  return pairedSummary(a.map((x, i) => x / b[i]));
}

/** Round-by-round differences a[i] − b[i] (measured back to back), summarized. */
function pairedDifference(a, b) {
  return pairedSummary(a.map((x, i) => x - b[i]));
}

function rpcResult(response) {
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${response.body.slice(0, 300)}`);
  const message = JSON.parse(response.body);
  if (message.error) throw new Error(`JSON-RPC error: ${response.body.slice(0, 300)}`);
  return message.result;
}

// ---------------------------------------------------------------- phase A: Node

/** Item 6: DPoP proof verification and origin assertions per call, beside today's per-call crypto (Node). */
async function proofOfPossessionInNode() {
  log("item 6: DPoP verification and origin assertions vs today's per-call crypto (Node)");
  const raw = await nodeScript("bench/node/pop-costs.ts", [SIZES.cryptoRounds, SIZES.cryptoRoundMs]);
  const out = {};
  for (const result of raw.results) {
    const v = Object.fromEntries(result.variants.map((x) => [x.name, x]));
    const handle = v["edge today: verifyHandle"];
    const dpop = v["edge added: verifyDpopProof (ES256 proof)"];
    const sign = v["edge added: signOriginAssertion"];
    const originToday = v["origin today: verifyTaskHandle"];
    const originAdded = v["origin added: verifyOriginAssertion"];
    out[result.alg] = {
      opsPerSec: Object.fromEntries(result.variants.map((x) => [x.name, x.opsPerSec])),
      medianUs: Object.fromEntries(result.variants.map((x) => [x.name, x.latencyUs.median])),
      // Time-per-call ratios (today's ops/s ÷ added ops/s), median of per-round pairs.
      dpopVsHandleVerify: pairedRatio(handle.roundOpsPerSec, dpop.roundOpsPerSec),
      assertionSignVsHandleVerify: pairedRatio(handle.roundOpsPerSec, sign.roundOpsPerSec),
      originAssertionVsOriginHandle: pairedRatio(originToday.roundOpsPerSec, originAdded.roundOpsPerSec),
    };
  }
  return { summary: out, raw };
}

async function cryptoInNode() {
  log("item 2: handle verification/minting vs raw WebCrypto (Node)");
  return nodeScript("bench/node/crypto.ts", [SIZES.cryptoRounds, SIZES.cryptoRoundMs]);
}

function summarizeCrypto(raw) {
  const out = {};
  for (const result of raw.results) {
    const byName = Object.fromEntries([...result.verify, ...result.mint].map((v) => [v.name, v]));
    const verify = byName["verifyHandle (taskward)"];
    const rawVerify = byName["raw WebCrypto verify + JSON.parse"];
    const jose = byName["jose jwtVerify (reference)"];
    const mint = byName["mintHandle (taskward, jose SignJWT)"];
    const rawMint = byName["raw: encode header+payload, subtle.sign"];
    const rawSign = byName["raw: subtle.sign of the same signing input"];
    out[result.alg] = {
      tokenLength: result.tokenLength,
      verifyOpsPerSec: verify.opsPerSec,
      rawVerifyOpsPerSec: rawVerify.opsPerSec,
      joseVerifyOpsPerSec: jose.opsPerSec,
      verifyVsRaw: pairedRatio(verify.roundOpsPerSec, rawVerify.roundOpsPerSec),
      verifyVsRawOverall: ratio(verify.opsPerSec, rawVerify.opsPerSec),
      joseVsRaw: pairedRatio(jose.roundOpsPerSec, rawVerify.roundOpsPerSec),
      verifyExtraUsMedian: round(verify.latencyUs.median - rawVerify.latencyUs.median, 1),
      verifyLatencyUs: verify.latencyUs,
      rawVerifyLatencyUs: rawVerify.latencyUs,
      mintOpsPerSec: mint.opsPerSec,
      rawMintOpsPerSec: rawMint.opsPerSec,
      rawSignOpsPerSec: rawSign.opsPerSec,
      mintVsRawMint: pairedRatio(mint.roundOpsPerSec, rawMint.roundOpsPerSec),
      mintVsRawSign: pairedRatio(mint.roundOpsPerSec, rawSign.roundOpsPerSec),
      mintLatencyUs: mint.latencyUs,
      rawSignLatencyUs: rawSign.latencyUs,
    };
  }
  return out;
}

async function sseInNode() {
  log("item 4: SSE rewriting throughput (rewrite vs reserialize vs identity, interleaved)");
  const throughput = await nodeScript("bench/node/sse.ts", ["throughput", SIZES.sseEvents, SIZES.sseRounds]);
  log("item 4: SSE first-byte delay per event");
  const firstByte = await nodeScript("bench/node/sse.ts", ["first-byte", SIZES.firstByte]);
  const memory = [];
  for (const events of SIZES.sseMemory) {
    log(`item 4: SSE peak memory, rewrite, ${events} events (fresh process)`);
    memory.push(await nodeScript("bench/node/sse.ts", ["memory", "rewrite", events], ["--expose-gc"]));
  }
  const longest = SIZES.sseMemory.at(-1);
  log(`item 4: SSE peak memory, identity, ${longest} events (fresh process)`);
  memory.push(await nodeScript("bench/node/sse.ts", ["memory", "identity", longest], ["--expose-gc"]));
  const rewriteRuns = memory.filter((m) => m.kind === "rewrite");
  return {
    throughput: { ...throughput, rewriteVsIdentity: pairedSummary(throughput.pairedRatios, 4), rewriteVsReserialize: pairedSummary(throughput.pairedVsReserialize, 4) },
    firstByte,
    memory,
    memoryGrowth: {
      peakHeapUsedMiB: Object.fromEntries(rewriteRuns.map((m) => [m.events, m.peakHeapUsedMiB])),
      peakRssMiB: Object.fromEntries(rewriteRuns.map((m) => [m.events, m.peakRssMiB])),
      heapLongestOverShortest: ratio(rewriteRuns.at(-1).peakHeapUsedMiB, rewriteRuns[0].peakHeapUsedMiB),
      rssLongestOverShortest: ratio(rewriteRuns.at(-1).peakRssMiB, rewriteRuns[0].peakRssMiB),
    },
  };
}

/** node --cpu-prof of verifyHandle (item 2) and of SSE rewriting (item 4), summarized. */
async function nodeProfiles() {
  const dir = join(ROOT, "bench/results/profiles");
  const out = {};
  for (const [name, file, args] of [
    ["node-verify-handle", "bench/node/verify-breakdown.ts", ["profile"]],
    ["node-sse-rewrite", "bench/node/sse.ts", ["profile", 200_000]],
  ]) {
    log(`profiling ${file} ${args.join(" ")} (node --cpu-prof)`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await nodeScript(file, args, ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", "100"]);
    const produced = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    const profile = JSON.parse(readFileSync(join(dir, produced[0]), "utf8"));
    writeFileSync(join(ROOT, `bench/results/${name}.cpuprofile`), JSON.stringify(profile));
    out[name] = { file: `bench/results/${name}.cpuprofile`, ...summarizeProfile(profile, 20) };
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

// ---------------------------------------------------------------- phase B: the Worker

async function devToken(base, identity) {
  return (await postJson(base, "/dev/token", identity)).access_token;
}

async function createTask(base, path, token) {
  const response = await post(base, path, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "bench_tool", arguments: {}, task: { ttl: 3_600_000 } } }, { ...MCP_HEADERS, authorization: `Bearer ${token}` });
  const handle = rpcResult(response).task.taskId;
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(handle)) throw new Error(`expected a handle, got ${handle}`);
  return handle;
}

/** CPU ms used so far by the runtime that runs the bench Worker and its objects ("user"), and by wrangler's proxy runtime. */
function workerdCpu(stack) {
  const roles = stack.workerdRoles();
  const sum = (pids) => pids.reduce((total, pid) => total + (processCpuMs(pid) ?? 0), 0);
  return { user: sum(roles.user), proxy: sum(roles.proxy) };
}

function cpuSince(stack, before) {
  const now = workerdCpu(stack);
  return { user: now.user - before.user, proxy: now.proxy - before.proxy };
}

/** A follow-up target on `stack`: a fresh token and task of its own, and a check of every answer. */
async function followUpTarget(stack, name, path) {
  const token = await devToken(stack.base, IDENTITY);
  const handle = await createTask(stack.base, path, token);
  const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tasks/get", params: { taskId: handle } });
  const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
  const check = (response) => {
    const result = rpcResult(response);
    if (result.taskId !== handle || result.status !== "working") throw new Error(`unexpected tasks/get result ${response.body.slice(0, 200)}`);
  };
  return { name, base: stack.base, stack, path, body, headers, check, handle };
}

/** `refStack`: another commit's Worker (--compare-ref with --follow-up-only), measured as target `taskwardRef`. */
async function followUpPath(stack, refStack) {
  const { base } = stack;
  const main = await followUpTarget(stack, "taskward", "/mcp");
  const { handle, body, headers, check: expectTask } = main;
  const targets = [
    main,
    { name: "bare", base, stack, path: "/bare/mcp", body, headers, check: expectTask },
    { name: "noop", base, stack, path: "/noop/mcp", body, headers, check: expectTask },
    ...(refStack ? [await followUpTarget(refStack, "taskwardRef", "/mcp")] : [{ name: "taskwardP1", base, stack, path: "/p1/mcp", body, headers, check: expectTask }]),
  ];
  log(`item 1: tasks/get latency at concurrency 1, ${SIZES.latencyN} per target, interleaved`);
  const latencyRaw = await interleavedLatency(base, targets, { n: SIZES.latencyN, warmup: SIZES.latencyWarmup });
  const latency = Object.fromEntries(Object.entries(latencyRaw).map(([k, v]) => [k, summarize(v)]));
  // Follow-ups that reached taskward's ledger (/mcp and /p1/mcp share it); the audit check below must find every one.
  let sentToTaskward = (refStack ? 1 : 2) * (SIZES.latencyN + SIZES.latencyWarmup);
  let autocannonRuns = 0;

  const tool = throughputTool(ROOT);
  const tputTargets = refStack ? targets : targets.slice(0, 3);
  log(`item 1: throughput, 8 connections, ${SIZES.tputRounds} rounds × ${SIZES.tputSeconds}s per target (${tool.name})`);
  const tput = Object.fromEntries(tputTargets.map((t) => [t.name, { requests: 0, seconds: 0, non2xx: 0, errors: 0, timeouts: 0, p50: [], p99: [], cpuMs: 0, proxyCpuMs: 0, rounds: [], roundCpuMsPerRequest: [] }]));
  for (const target of tputTargets) {
    const warm = await tool.run(`${target.base}${target.path}`, { connections: 8, seconds: 1, headers: { ...target.headers, "content-type": "application/json" }, body: target.body });
    if (target.name === "taskward") {
      sentToTaskward += warm.requests;
      autocannonRuns++;
    }
  }
  for (let round = 0; round < SIZES.tputRounds; round++) {
    for (const target of tputTargets) {
      const cpuBefore = workerdCpu(target.stack);
      const result = await tool.run(`${target.base}${target.path}`, { connections: 8, seconds: SIZES.tputSeconds, headers: { ...target.headers, "content-type": "application/json" }, body: target.body });
      const cpu = cpuSince(target.stack, cpuBefore);
      if (target.name === "taskward") {
        sentToTaskward += result.requests + 1;
        autocannonRuns++;
      }
      const entry = tput[target.name];
      entry.requests += result.requests;
      entry.seconds += result.seconds;
      entry.non2xx += result.non2xx;
      entry.errors += result.errors;
      entry.timeouts += result.timeouts;
      entry.p50.push(result.p50);
      entry.p99.push(result.p99);
      entry.cpuMs += cpu.user;
      entry.proxyCpuMs += cpu.proxy;
      entry.rounds.push(Math.round(result.requests / result.seconds));
      entry.roundCpuMsPerRequest.push(cpu.user / result.requests);
      const check = await post(target.base, target.path, target.body, target.headers);
      target.check(check);
    }
  }
  const throughput = Object.fromEntries(
    Object.entries(tput).map(([name, e]) => [
      name,
      {
        requestsPerSec: Math.round(e.requests / e.seconds),
        roundRequestsPerSec: e.rounds,
        requests: e.requests,
        non2xx: e.non2xx,
        errors: e.errors,
        timeouts: e.timeouts,
        latencyMedianMs: round(median(e.p50), 2),
        latencyP99Ms: round(median(e.p99), 2),
        workerdCpuMsPerRequest: round(e.cpuMs / e.requests, 3),
        roundWorkerdCpuMsPerRequest: e.roundCpuMsPerRequest.map((ms) => round(ms, 3)),
        wranglerProxyCpuMsPerRequest: round(e.proxyCpuMs / e.requests, 3),
      },
    ]),
  );

  // Integrity: every taskward tasks/get was authorized and audited (folded into counted spans).
  const audit = await fetch(`${base}/admin/tenants/${IDENTITY.tenant}/audit?limit=1000`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  const events = (await audit.text()).trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  const allowed = events.filter((e) => e.type === "allowed").reduce((sum, e) => sum + e.count, 0);
  const denied = events.filter((e) => e.type === "denied").length;

  const delta = latency.taskward.median - latency.noop.median;
  return {
    handleLength: handle.length,
    latency,
    latencyDeltaMs: {
      taskwardMinusNoop: { median: round(delta, 3), p99: round(latency.taskward.p99 - latency.noop.p99, 3) },
      taskwardMinusBare: { median: round(latency.taskward.median - latency.bare.median, 3), p99: round(latency.taskward.p99 - latency.bare.p99, 3) },
      noopMinusBare: { median: round(latency.noop.median - latency.bare.median, 3), p99: round(latency.noop.p99 - latency.bare.p99, 3) },
      ...(refStack
        ? { refMinusNoop: { median: round(latency.taskwardRef.median - latency.noop.median, 3), p99: round(latency.taskwardRef.p99 - latency.noop.p99, 3) } }
        : { taskwardMinusP1: { median: round(latency.taskward.median - latency.taskwardP1.median, 3), p99: round(latency.taskward.p99 - latency.taskwardP1.p99, 3) } }),
    },
    latencyRatios: {
      taskwardOverNoop: { median: ratio(latency.taskward.median, latency.noop.median), p99: ratio(latency.taskward.p99, latency.noop.p99) },
      taskwardOverBare: { median: ratio(latency.taskward.median, latency.bare.median), p99: ratio(latency.taskward.p99, latency.bare.p99) },
      noopOverBare: { median: ratio(latency.noop.median, latency.bare.median), p99: ratio(latency.noop.p99, latency.bare.p99) },
    },
    throughputTool: tool.name,
    throughput,
    throughputRatios: {
      taskwardOverNoop: pairedRatio(throughput.taskward.roundRequestsPerSec, throughput.noop.roundRequestsPerSec),
      taskwardOverBare: pairedRatio(throughput.taskward.roundRequestsPerSec, throughput.bare.roundRequestsPerSec),
      noopOverBare: pairedRatio(throughput.noop.roundRequestsPerSec, throughput.bare.roundRequestsPerSec),
    },
    // Worker+DO CPU per request, round by round: taskward − the no-op proxy, and (with --compare-ref) taskward − the ref.
    cpuMsPerRequestDelta: {
      taskwardMinusNoop: pairedDifference(throughput.taskward.roundWorkerdCpuMsPerRequest, throughput.noop.roundWorkerdCpuMsPerRequest),
      ...(refStack ? { taskwardMinusRef: pairedDifference(throughput.taskward.roundWorkerdCpuMsPerRequest, throughput.taskwardRef.roundWorkerdCpuMsPerRequest) } : {}),
    },
    auditCheck: {
      followUpsAnswered: sentToTaskward,
      allowedDecisionsRecorded: allowed,
      deniedEvents: denied,
      auditRows: events.length,
      // autocannon stops counting with up to `connections` requests in flight; the Worker still finishes and audits them.
      consistent: denied === 0 && allowed >= sentToTaskward && allowed - sentToTaskward <= 8 * autocannonRuns,
      note: "every answered taskward tasks/get (/mcp and /p1/mcp) must appear as an allowed decision; identical polls fold into counted rows",
    },
  };
}

async function ledgerPath(stack) {
  const { base } = stack;
  const template = await createTask(base, "/mcp", await devToken(base, IDENTITY)); // a real handle, for the stored length
  const principal = { clientId: "ledger-client", subject: "ledger-user" };
  const seed = async (tenant, count, prefix) => {
    const batches = [];
    const batch = 10_000;
    for (let start = 0; start < count; start += batch) {
      batches.push(await postJson(base, "/bench/seed", { tenant, spec: { start, count: Math.min(batch, count - start), ...principal, taskPrefix: `${prefix}task-`, jtiPrefix: `${prefix}jti-`, handleTemplate: template } }));
    }
    return { tasks: count, seedMs: batches.reduce((s, b) => s + b.ms, 0), databaseBytes: batches.at(-1).databaseSize };
  };
  log("item 3: seeding ledgers (2 tasks; 100k tasks via the real issue())");
  const small = await seed("ledger-small", 2, "s-");
  const big = await seed("ledger-100k", SIZES.seed100k, "b-");
  const who = { ...principal };
  const jtis = (prefix) => [`${prefix}jti-0`, `${prefix}jti-1`];
  const cases = [
    { name: "noop", target: "noop", tenant: "ledger-small", jtis: jtis("s-") },
    { name: "noopWrite", target: "noop-write", tenant: "ledger-small", jtis: jtis("s-") },
    { name: "isActive", target: "is-active", tenant: "ledger-small", jtis: jtis("s-") },
    { name: "authorize", target: "authorize", tenant: "ledger-small", jtis: jtis("s-") },
    { name: "authorizeUnfolded", target: "authorize-unfolded", tenant: "ledger-small", jtis: jtis("s-") },
    { name: "authorize100k", target: "authorize", tenant: "ledger-100k", jtis: [`b-jti-${Math.floor(SIZES.seed100k / 2)}`, `b-jti-${SIZES.seed100k - 1}`] },
    { name: "authorizeUnfolded100k", target: "authorize-unfolded", tenant: "ledger-100k", jtis: [`b-jti-${Math.floor(SIZES.seed100k / 2)}`, `b-jti-${SIZES.seed100k - 1}`] },
  ];
  const modes = [
    { mode: "sequential", concurrency: 1, n: SIZES.ledgerSeqN },
    { mode: "concurrent16", concurrency: 16, n: SIZES.ledgerConcN },
  ];
  log(`item 3: in-Worker loops, ${cases.length} targets × 2 modes × ${SIZES.ledgerRounds} rounds, interleaved`);
  const acc = {};
  for (let round = 0; round < SIZES.ledgerRounds; round++) {
    for (const { mode, concurrency, n } of modes) {
      for (const c of cases) {
        const cpuBefore = workerdCpu(stack);
        const r = await postJson(base, "/bench/loop", { target: c.target, tenant: c.tenant, jtis: c.jtis, ...who, n, concurrency });
        const cpuMs = cpuSince(stack, cpuBefore).user;
        const key = `${c.name}/${mode}`;
        acc[key] ??= { ops: 0, ms: 0, wallMs: 0, cpuMs: 0, rounds: [], latencies: [] };
        acc[key].ops += r.n;
        acc[key].ms += r.elapsedMs;
        acc[key].wallMs += r.wallMs;
        acc[key].cpuMs += cpuMs;
        acc[key].rounds.push((r.n / r.elapsedMs) * 1000);
        acc[key].latencies.push(...r.latencies);
      }
    }
  }
  const loops = {};
  for (const [key, a] of Object.entries(acc)) {
    loops[key] = {
      opsPerSec: Math.round((a.ops / a.ms) * 1000),
      meanMsPerOp: round(a.ms / a.ops, 3),
      roundOpsPerSec: a.rounds.map((x) => Math.round(x)),
      latencyMs1msClock: { median: percentile(a.latencies, 50), p99: percentile(a.latencies, 99) },
      workerdCpuMsPerOp: round(a.cpuMs / a.ops, 3),
      dateNowAgrees: Math.abs(a.wallMs - a.ms) <= Math.max(5, a.ms * 0.05),
    };
  }
  const versus = (name, base_, mode) => pairedRatio(acc[`${base_}/${mode}`].rounds, acc[`${name}/${mode}`].rounds); // cost ratio = baseline ops/s ÷ target ops/s
  const ratios = {};
  for (const { mode } of modes) {
    for (const c of cases.filter((c) => c.name !== "noop")) ratios[`${c.name}/${mode} vs noop`] = versus(c.name, "noop", mode);
    for (const name of ["authorize", "authorizeUnfolded", "authorize100k"]) ratios[`${name}/${mode} vs noopWrite`] = versus(name, "noopWrite", mode);
  }

  log(`item 3: single ledger calls timed from Node (one per HTTP request, ${SIZES.onceN} each, interleaved)`);
  const onceTargets = ["noop", "noopWrite", "authorize", "authorize100k"].map((name) => {
    const c = cases.find((x) => x.name === name);
    return { name, path: "/bench/once", body: JSON.stringify({ target: c.target, tenant: c.tenant, jtis: c.jtis, ...who, n: 1, concurrency: 1 }), headers: {}, check: (r) => { if (r.status !== 204) throw new Error(`/bench/once ${name}: ${r.status} ${r.body.slice(0, 300)}`); } };
  });
  const onceRaw = await interleavedLatency(base, onceTargets, { n: SIZES.onceN, warmup: 20 });
  const once = Object.fromEntries(Object.entries(onceRaw).map(([k, v]) => [k, summarize(v)]));

  log("item 3: rows read/written per ledger call (metered cursors)");
  const whoNow = { tenant: "ledger-small", ...principal, authTime: Math.floor(Date.now() / 1000) };
  const meter = (tenant, method, args) => postJson(base, "/bench/meter", { tenant, method, args });
  await meter("ledger-small", "authorize", ["ledger-small", "s-jti-0", "get", whoNow]);
  const metering = {
    authorizeFolded: await meter("ledger-small", "authorize", ["ledger-small", "s-jti-0", "get", whoNow]),
    authorizeUnfolded: await meter("ledger-small", "authorize", ["ledger-small", "s-jti-1", "get", whoNow]),
    authorize100kFolded: await (async () => {
      const w = { ...whoNow, tenant: "ledger-100k" };
      await meter("ledger-100k", "authorize", ["ledger-100k", "b-jti-7", "get", w]);
      return meter("ledger-100k", "authorize", ["ledger-100k", "b-jti-7", "get", w]);
    })(),
    observeStatusUnchanged: await meter("ledger-small", "observeStatus", ["ledger-small", "s-task-0", "working"]),
    // A DPoP-bound caller's poll also spends its proof in the same transaction (dpop_spent).
    authorizeFoldedDpop: await (async () => {
      const withProof = () => ["ledger-small", "s-jti-0", "get", whoNow, undefined, { proof: { key: `bench-proof-${crypto.randomUUID()}`, expiresAt: Date.now() + 60_000 } }];
      await meter("ledger-small", "authorize", withProof()); // s-jti-0 becomes the chain head again
      return meter("ledger-small", "authorize", withProof());
    })(),
    // Repeats are counted in memory: one write of the counts (what the alarm or the next change does), after a few repeats.
    writeCounts: await (async () => {
      await meter("ledger-small", "writeCounts", []); // the loops above left counts of many spans: write them first
      for (let i = 0; i < 3; i++) await meter("ledger-small", "authorize", ["ledger-small", "s-jti-0", "get", whoNow]);
      return meter("ledger-small", "writeCounts", []);
    })(),
  };
  for (const m of Object.values(metering)) delete m.result;

  log("item 3: attribution inside the object (each statement of authorize, the hash, transactions)");
  const costsArgs = { tenant: "ledger-small", jti: "s-jti-0", principal: whoNow, n: QUICK ? 300 : 2000 };
  await postJson(base, "/bench/costs", costsArgs); // warm
  const costs = await postJson(base, "/bench/costs", costsArgs);
  return { seeded: { small, big }, loops, ratios, once, costsUsInObject: costs, onceDeltaMs: {
    authorizeMinusNoop: { median: round(once.authorize.median - once.noop.median, 3), p99: round(once.authorize.p99 - once.noop.p99, 3) },
    authorize100kMinusNoop: { median: round(once.authorize100k.median - once.noop.median, 3), p99: round(once.authorize100k.p99 - once.noop.p99, 3) },
    noopWriteMinusNoop: { median: round(once.noopWrite.median - once.noop.median, 3), p99: round(once.noopWrite.p99 - once.noop.p99, 3) },
  }, metering };
}

async function listPath(stack) {
  const { base } = stack;
  const token = await devToken(base, LIST_IDENTITY);
  const template = await createTask(base, "/list/mcp", token);
  log(`item 5: seeding ${SIZES.seedList} tasks for one principal (tenant ${LIST_IDENTITY.tenant})`);
  let seedMs = 0;
  for (let start = 0; start < SIZES.seedList; start += 10_000) {
    const r = await postJson(base, "/bench/seed", { tenant: LIST_IDENTITY.tenant, spec: { start, count: Math.min(10_000, SIZES.seedList - start), clientId: LIST_IDENTITY.client_id, subject: LIST_IDENTITY.sub, taskPrefix: "list-task-", jtiPrefix: "list-jti-", handleTemplate: template } });
    seedMs += r.ms;
  }
  const who = { clientId: LIST_IDENTITY.client_id, subject: LIST_IDENTITY.sub };
  const ids = (count, offset = 0) => Array.from({ length: count }, (_, i) => `list-task-${(i * 97 + offset) % SIZES.seedList}`);
  const cases = [
    { name: "owned10", target: "owned", ids: ids(10) },
    { name: "noopOwned10", target: "noop-owned", ids: ids(10) },
    { name: "owned100", target: "owned", ids: ids(100) },
    { name: "noopOwned100", target: "noop-owned", ids: ids(100) },
  ];
  log("item 5: ownedHandles for 10 and 100 ids vs a no-op RPC with the same arguments (in-Worker, interleaved)");
  const acc = {};
  for (let round = 0; round < SIZES.ledgerRounds; round++) {
    for (const c of cases) {
      const n = c.ids.length === 100 ? Math.max(20, SIZES.ledgerSeqN / 2) : SIZES.ledgerSeqN;
      const r = await postJson(base, "/bench/loop", { target: c.target, tenant: LIST_IDENTITY.tenant, ids: c.ids, ...who, n, concurrency: 1 });
      acc[c.name] ??= { ops: 0, ms: 0, rounds: [] };
      acc[c.name].ops += r.n;
      acc[c.name].ms += r.elapsedMs;
      acc[c.name].rounds.push((r.n / r.elapsedMs) * 1000);
    }
  }
  const owned = Object.fromEntries(Object.entries(acc).map(([k, a]) => [k, { opsPerSec: Math.round((a.ops / a.ms) * 1000), meanMsPerCall: round(a.ms / a.ops, 3), roundOpsPerSec: a.rounds.map(Math.round) }]));
  const meterOwned = async (count) => {
    const m = await postJson(base, "/bench/meter", { tenant: LIST_IDENTITY.tenant, method: "ownedHandles", args: [LIST_IDENTITY.tenant, { tenant: LIST_IDENTITY.tenant, ...who }, ids(count), { audience: "bench", isDefault: true }] });
    return { returned: Object.keys(m.result).length, statements: m.statements, rowsRead: m.rowsRead, rowsWritten: m.rowsWritten };
  };

  log(`item 5: full tasks/list (origin page of 100 tasks) through taskward vs the bare proxy, ${SIZES.listN} each`);
  const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
  const listBody = JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tasks/list", params: {} });
  let listed = 0;
  const targets = [
    {
      name: "taskward",
      path: "/list/mcp",
      body: listBody,
      headers,
      check: (r) => {
        const tasks = rpcResult(r).tasks;
        listed = tasks.length;
        if (tasks.length !== 100 || tasks.some((t) => !t.taskId.includes("."))) throw new Error(`tasks/list: expected 100 handles, got ${tasks.length}`);
      },
    },
    { name: "bare", path: "/bare/mcp", body: listBody, headers, check: (r) => { if (rpcResult(r).tasks.length !== 100) throw new Error("bare tasks/list"); } },
  ];
  await postJson(base, "/bench/calls", { tenant: LIST_IDENTITY.tenant });
  const listRaw = await interleavedLatency(base, targets, { n: SIZES.listN, warmup: 5 });
  await new Promise((r) => setTimeout(r, 500)); // let waitUntil work land before counting it
  const listCalls = await postJson(base, "/bench/calls", { tenant: LIST_IDENTITY.tenant });
  const listRequests = SIZES.listN + 5;

  // Ledger RPCs per tasks/get (on the counting ledger class).
  const getBody = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tasks/get", params: { taskId: template } });
  for (let i = 0; i < 20; i++) rpcResult(await post(base, "/list/mcp", getBody, headers));
  await new Promise((r) => setTimeout(r, 500));
  const getCalls = await postJson(base, "/bench/calls", { tenant: LIST_IDENTITY.tenant });

  const listLatency = Object.fromEntries(Object.entries(listRaw).map(([k, v]) => [k, summarize(v)]));
  return {
    tenantTasks: SIZES.seedList + 1,
    seedMs,
    ownedHandles: owned,
    ownedRatios: {
      owned10VsNoop: pairedRatio(acc.noopOwned10.rounds, acc.owned10.rounds),
      owned100VsNoop: pairedRatio(acc.noopOwned100.rounds, acc.owned100.rounds),
    },
    metering: { owned10: await meterOwned(10), owned100: await meterOwned(100) },
    tasksList: {
      listedPerPage: listed,
      latency: listLatency,
      deltaMs: { median: round(listLatency.taskward.median - listLatency.bare.median, 3), p99: round(listLatency.taskward.p99 - listLatency.bare.p99, 3) },
      ratio: { median: ratio(listLatency.taskward.median, listLatency.bare.median), p99: ratio(listLatency.taskward.p99, listLatency.bare.p99) },
      ledgerRpcsPerList: Object.fromEntries(Object.entries(listCalls).map(([k, v]) => [k, round(v / listRequests, 2)])),
    },
    ledgerRpcsPerTasksGet: Object.fromEntries(Object.entries(getCalls).map(([k, v]) => [k, round(v / 20, 2)])),
  };
}

async function cryptoInWorkerd(stack) {
  log("item 2 cross-check: the same crypto cases inside workerd");
  const out = {};
  for (const alg of ["EdDSA", "ES256"]) {
    const r = await postJson(stack.base, "/bench/crypto", { alg, rounds: SIZES.workerdCryptoRounds, roundMs: 100 });
    out[alg] = summarizeCrypto({ results: [r] })[alg];
    for (const k of Object.keys(out[alg])) if (/LatencyUs|ExtraUs/.test(k)) delete out[alg][k]; // 1 ms clock: per-op latencies are meaningless there
  }
  return out;
}

async function clockCheck(stack) {
  const response = await fetch(`${stack.base}/bench/clock`);
  return response.json();
}

// ---------------------------------------------------------------- cost model

const PRICES = {
  source: {
    workers: "https://developers.cloudflare.com/workers/platform/pricing/",
    durableObjects: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  },
  workerRequestsPerMillion: 0.3,
  workerCpuPerMillionMs: 0.02,
  doRequestsPerMillion: 0.15,
  doGbSecondsPerMillion: 12.5,
  doMemoryGb: 0.128,
  sqliteRowsReadPerMillion: 0.001,
  sqliteRowsWrittenPerMillion: 1.0,
  doSoftLimitRps: 1000,
};

/**
 * How the counts of repeated polls are paid for (src/ledger/audit-log.ts), per object polled `r` times a second by one
 * caller (one span: the least sharing). Cloudflare's Durable Objects pricing page: "Each `setAlarm()` is billed as a
 * single row written", and requests include "alarm invocations"; a count write's rows are metered (writeCounts).
 *  - "5s" (before, REPEAT_FLUSH_MS): every 5 s the first repeat arms an alarm (1 setAlarm), the alarm writes the counts
 *    and re-arms its housekeeping alarm (1 setAlarm): a cycle of 5 s + the gap to the next poll.
 *  - "idle5s-busy60s" (now, IDLE_FLUSH_MS / BUSY_FLUSH_MS): the alarm comes 5 s after the last decision; while polls
 *    keep coming it finds one less than 5 s old and re-arms (1 setAlarm, no count written): a period of
 *    5 s − the mean gap since the last poll (0.5/r s). Every 60 s it writes the counts, and the first repeat after
 *    that arms it once more (1 setAlarm).
 */
const COUNT_WRITE_MODEL = { schedules: ["5s", "idle5s-busy60s"], pollsPerSecondPerObject: [1, 10, 100], headline: { schedule: "idle5s-busy60s", pollsPerSecond: Number(process.env.BENCH_POLLS_PER_SECOND ?? 1) } };

/** Rows written and alarm requests per poll that the count schedule adds, at `r` polls a second on one object. */
function countWritesPerPoll(schedule, r, countWriteRows) {
  if (schedule === "5s") {
    const cycleSeconds = 5 + 0.5 / r;
    return { rows: (countWriteRows + 2) / (cycleSeconds * r), alarms: 1 / (cycleSeconds * r) };
  }
  const alarmPeriodSeconds = 5 - 0.5 / r;
  const alarmsPerSecond = 1 / alarmPeriodSeconds;
  return { rows: (alarmsPerSecond + (countWriteRows + 1) / 60) / r, alarms: alarmsPerSecond / r };
}

function costModel(results) {
  const f = results.followUp;
  const l = results.ledger;
  const rpcs = results.list.ledgerRpcsPerTasksGet;
  const doRequests = (rpcs.authorize ?? 1) + (rpcs.observeStatus ?? 0) + (rpcs.observeDelivery ?? 0);
  const rowsRead = l.metering.authorizeFolded.rowsRead + (rpcs.observeStatus ? l.metering.observeStatusUnchanged.rowsRead : 0);
  // Repeats write nothing on their path; their counts are written by the alarm on the schedule above (or sooner by another
  // write, which only makes it cheaper).
  const counts = l.metering.writeCounts;
  const countRows = counts?.rowsWritten ?? 0;
  const headline = counts ? countWritesPerPoll(COUNT_WRITE_MODEL.headline.schedule, COUNT_WRITE_MODEL.headline.pollsPerSecond, countRows) : { rows: 0, alarms: 0 };
  const countRowsPerPoll = round(headline.rows, 4);
  const alarmRequestsPerPoll = round(headline.alarms, 4);
  const rowsWritten = round(l.metering.authorizeFolded.rowsWritten + countRowsPerPoll, 4);
  // A spent proof is deleted once its window closed: one more row per proof ("Deletes are counted as rows written").
  const proofRows = l.metering.authorizeFoldedDpop === undefined ? undefined : l.metering.authorizeFoldedDpop.rowsWritten - l.metering.authorizeFolded.rowsWritten + 1;
  const rowsWrittenDpop = proofRows === undefined ? undefined : round(rowsWritten + proofRows, 4);
  const cpuMs = f.throughput.taskward.workerdCpuMsPerRequest;
  const cpuExtraMs = round(f.throughput.taskward.workerdCpuMsPerRequest - f.throughput.bare.workerdCpuMsPerRequest, 3);
  const activeSeconds = l.loops["authorize/sequential"].meanMsPerOp / 1000; // an upper bound: the whole RPC round trip
  const per1M = (count, price) => round(count * price, 4);
  const lines = {
    workerRequests: per1M(1, PRICES.workerRequestsPerMillion),
    workerCpuAllLocalWorkerdCpu: per1M(cpuMs, PRICES.workerCpuPerMillionMs),
    workerCpuTaskwardExtraOverBareProxy: per1M(cpuExtraMs, PRICES.workerCpuPerMillionMs),
    doRequests: per1M(doRequests + alarmRequestsPerPoll, PRICES.doRequestsPerMillion),
    doRequestsAfterP1: per1M(1, PRICES.doRequestsPerMillion),
    doDurationIfActiveOnlyDuringCalls: round(activeSeconds * PRICES.doMemoryGb * doRequests * PRICES.doGbSecondsPerMillion, 4),
    sqliteRowsRead: per1M(rowsRead, PRICES.sqliteRowsReadPerMillion),
    sqliteRowsWritten: per1M(rowsWritten, PRICES.sqliteRowsWrittenPerMillion),
  };
  const total = round(lines.workerRequests + lines.workerCpuAllLocalWorkerdCpu + lines.doRequests + lines.doDurationIfActiveOnlyDuringCalls + lines.sqliteRowsRead + lines.sqliteRowsWritten, 4);
  const totalDpopBound = rowsWrittenDpop === undefined ? undefined : round(total - lines.sqliteRowsWritten + per1M(rowsWrittenDpop, PRICES.sqliteRowsWrittenPerMillion), 4);
  // The same per-request lines under each count schedule and poll rate: what the schedule alone moves.
  const perRequest = lines.workerRequests + lines.workerCpuAllLocalWorkerdCpu + per1M(doRequests, PRICES.doRequestsPerMillion) + lines.doDurationIfActiveOnlyDuringCalls + lines.sqliteRowsRead;
  const bySchedule = Object.fromEntries(
    COUNT_WRITE_MODEL.schedules.map((schedule) => [
      schedule,
      Object.fromEntries(
        COUNT_WRITE_MODEL.pollsPerSecondPerObject.map((r) => {
          const c = counts ? countWritesPerPoll(schedule, r, countRows) : { rows: 0, alarms: 0 };
          const plain = perRequest + per1M(c.alarms, PRICES.doRequestsPerMillion) + per1M(l.metering.authorizeFolded.rowsWritten + c.rows, PRICES.sqliteRowsWrittenPerMillion);
          return [r, { countRowsPerPoll: round(c.rows, 4), alarmRequestsPerPoll: round(c.alarms, 4), usd: round(plain, 4), usdDpopBound: proofRows === undefined ? undefined : round(plain + per1M(proofRows, PRICES.sqliteRowsWrittenPerMillion), 4) }];
        }),
      ),
    ]),
  );
  // What no count schedule can remove: the Worker's request and CPU and the one ledger request per follow-up.
  const floor = round(lines.workerRequests + lines.workerCpuAllLocalWorkerdCpu + per1M(doRequests, PRICES.doRequestsPerMillion), 4);
  const ceilingLocal = l.loops["authorize/concurrent16"].opsPerSec;
  const perObject = Math.min(ceilingLocal, PRICES.doSoftLimitRps);
  const utilisation = 0.7;
  // Every follow-up is `doRequests` requests on the tenant's object today (authorize + the status RPC); 1 after P1.
  const shardsFor = (followUpsPerSec, requestsPerFollowUp) => Math.max(1, Math.ceil((followUpsPerSec * requestsPerFollowUp) / (perObject * utilisation)));
  return {
    prices: PRICES,
    countWriteModel: { ...COUNT_WRITE_MODEL, rowsPerCountWrite: counts?.rowsWritten, rowsPerProof: proofRows, countRowsPerPoll, alarmRequestsPerPoll },
    perFollowUp: { workerRequests: 1, workerdCpuMs: cpuMs, workerdCpuExtraOverBareMs: cpuExtraMs, doRequests: doRequests + alarmRequestsPerPoll, sqliteRowsRead: rowsRead, sqliteRowsWritten: rowsWritten, sqliteRowsWrittenDpopBound: rowsWrittenDpop, doActiveSecondsUpperBound: round(activeSeconds, 5) },
    usdPerMillionFollowUps: { ...lines, total, totalDpopBound, floorWorkerAndLedgerRequests: floor, bySchedule },
    sharding: {
      authorizeCeilingLocalOpsPerSec: ceilingLocal,
      perObjectBudgetOpsPerSec: perObject,
      utilisation,
      objectRequestsPerFollowUp: doRequests,
      followUpsPerSecPerShard: Math.floor((perObject * utilisation) / doRequests),
      shardsAt: Object.fromEntries([100, 500, 1_000, 5_000, 20_000].map((rps) => [rps, shardsFor(rps, doRequests)])),
      shardsAtAfterP1: Object.fromEntries([100, 500, 1_000, 5_000, 20_000].map((rps) => [rps, shardsFor(rps, 1)])),
    },
  };
}

// ---------------------------------------------------------------- targets and the table

function targets(results) {
  const f = results.followUp;
  const c = results.crypto.node;
  const l = results.ledger;
  const list = [];
  list.push({ item: 1, name: "taskward − noop-DO proxy, median tasks/get latency", target: "≤ 0.5 ms", measured: `${f.latencyDeltaMs.taskwardMinusNoop.median} ms`, met: f.latencyDeltaMs.taskwardMinusNoop.median <= 0.5 });
  for (const alg of ["EdDSA", "ES256"]) {
    list.push({ item: 2, name: `verifyHandle ops/s ÷ raw WebCrypto ops/s (${alg}, Node)`, target: "≥ 0.90", measured: `${c[alg].verifyVsRaw.median} (rounds ${c[alg].verifyVsRaw.min}–${c[alg].verifyVsRaw.max})`, met: c[alg].verifyVsRaw.median >= 0.9 });
  }
  for (const key of ["authorize/sequential vs noop", "authorize/concurrent16 vs noop", "authorize100k/sequential vs noop", "authorize100k/concurrent16 vs noop"]) {
    list.push({ item: 3, name: `${key} (time per call ÷ no-op RPC's)`, target: "≤ 1.5×", measured: `${l.ratios[key].median}× (rounds ${l.ratios[key].min}–${l.ratios[key].max})`, met: l.ratios[key].median <= 1.5 });
  }
  list.push({ item: 1, name: "taskward − noop-DO proxy, p99 tasks/get latency", target: "≤ 0.5 ms (median goal; p99 shown)", measured: `${f.latencyDeltaMs.taskwardMinusNoop.p99} ms`, met: f.latencyDeltaMs.taskwardMinusNoop.p99 <= 0.5 });
  const usd = results.costModel.usdPerMillionFollowUps;
  const byRate = usd.bySchedule?.[COUNT_WRITE_MODEL.headline.schedule];
  const atRates = byRate ? `; by polls/s per object: ${Object.entries(byRate).map(([r, c]) => `${r} → $${c.usd}`).join(", ")}` : "";
  list.push({ item: 3, name: `cost per 1M follow-ups at ${COUNT_WRITE_MODEL.headline.pollsPerSecond} poll/s per object (bearer caller; DPoP-bound in brackets)`, target: "≤ $0.50", measured: `$${usd.total} ($${usd.totalDpopBound})${atRates}`, met: usd.total <= 0.5 });
  if (results.bundle) {
    const b = results.bundle.working;
    list.push({ item: 7, name: "deployable bundle, gzip -9", target: "≤ 120 KB", measured: `${b.gzipKB} KB (${b.bytes} B raw); isolate start ${b.startMs.median} ms (${b.startMinusEmptyMs} ms over an empty module)`, met: b.gzipBytes <= 120_000 });
  }
  return list;
}

function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? "").length)));
  const line = (cells) => cells.map((cell, i) => String(cell ?? "").padEnd(widths[i])).join("  ");
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => r[c])))].join("\n");
}

function printReport(results) {
  const out = [];
  const m = results.machine;
  out.push(`taskward bench — ${results.startedAt} — ${results.durationSeconds}s${QUICK ? " (QUICK: figures are noise)" : ""}`);
  out.push(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.node}; ${m.workerd}; wrangler ${m.wrangler}; ledger state in ${results.stateDir}`);
  out.push(`load average (1/5/15 min): ${results.load.map((l) => `${l.at} ${l.load.join("/")}`).join("; ")}`);
  const f = results.followUp;
  out.push("\n1. tasks/get at concurrency 1 (ms), targets interleaved request by request");
  out.push(table(Object.entries(f.latency).map(([name, s]) => ({ target: name, n: s.n, median: s.median, p99: s.p99, "÷ noop (median)": ratio(s.median, f.latency.noop.median), "÷ bare (median)": ratio(s.median, f.latency.bare.median) })), ["target", "n", "median", "p99", "÷ noop (median)", "÷ bare (median)"]));
  out.push(`taskward − noop: median ${f.latencyDeltaMs.taskwardMinusNoop.median} ms, p99 ${f.latencyDeltaMs.taskwardMinusNoop.p99} ms; taskward − taskward-without-status-RPC (P1): median ${f.latencyDeltaMs.taskwardMinusP1.median} ms`);
  out.push(`\n1. throughput at 8 connections (${f.throughputTool}), rounds interleaved`);
  out.push(table(Object.entries(f.throughput).map(([name, t]) => ({ target: name, "req/s": t.requestsPerSec, rounds: t.roundRequestsPerSec.join(","), "p50 ms": t.latencyMedianMs, "p99 ms": t.latencyP99Ms, "Worker+DO CPU ms/req": t.workerdCpuMsPerRequest, "wrangler proxy CPU ms/req": t.wranglerProxyCpuMsPerRequest, errors: t.non2xx + t.errors + t.timeouts })), ["target", "req/s", "rounds", "p50 ms", "p99 ms", "Worker+DO CPU ms/req", "wrangler proxy CPU ms/req", "errors"]));
  out.push(`ratios (median of per-round pairs): taskward/noop ${f.throughputRatios.taskwardOverNoop.median}, taskward/bare ${f.throughputRatios.taskwardOverBare.median}, noop/bare ${f.throughputRatios.noopOverBare.median}; audit recorded ${f.auditCheck.allowedDecisionsRecorded} allowed decisions for ${f.auditCheck.followUpsAnswered} answered follow-ups, ${f.auditCheck.deniedEvents} denials, in ${f.auditCheck.auditRows} rows`);
  out.push("\n2. handle crypto vs raw WebCrypto, Node (ops/s; ratio = median of per-round pairs)");
  const rows = [];
  for (const [alg, c] of Object.entries(results.crypto.node)) {
    rows.push({ case: `${alg} verifyHandle`, "ops/s": c.verifyOpsPerSec, baseline: `raw verify ${c.rawVerifyOpsPerSec}`, ratio: c.verifyVsRaw.median, "median µs": `${c.verifyLatencyUs.median} vs ${c.rawVerifyLatencyUs.median}` });
    rows.push({ case: `${alg} jose jwtVerify`, "ops/s": c.joseVerifyOpsPerSec, baseline: `raw verify ${c.rawVerifyOpsPerSec}`, ratio: c.joseVsRaw.median, "median µs": "" });
    rows.push({ case: `${alg} mintHandle`, "ops/s": c.mintOpsPerSec, baseline: `raw encode+sign ${c.rawMintOpsPerSec}`, ratio: c.mintVsRawMint.median, "median µs": `${c.mintLatencyUs.median} vs ${c.rawSignLatencyUs.median} (sign only)` });
  }
  for (const [alg, c] of Object.entries(results.crypto.workerd ?? {})) {
    rows.push({ case: `${alg} verifyHandle (workerd)`, "ops/s": c.verifyOpsPerSec, baseline: `raw verify ${c.rawVerifyOpsPerSec}`, ratio: c.verifyVsRaw.median, "median µs": "" });
  }
  out.push(table(rows, ["case", "ops/s", "baseline", "ratio", "median µs"]));
  for (const [alg, pieces] of Object.entries(results.crypto.nodeBreakdownUs ?? {})) {
    out.push(`${alg} pieces, median µs: ${Object.entries(pieces).map(([k, v]) => `${k} ${v.medianUs}`).join("; ")}`);
  }
  if (results.proofOfPossession) {
    out.push("\n6. per-call cost of DPoP and origin assertions, Node (ops/s; × = time per call ÷ today's, median of per-round pairs)");
    const popRows = [];
    for (const [alg, p] of Object.entries(results.proofOfPossession.summary)) {
      for (const [name, ops] of Object.entries(p.opsPerSec)) popRows.push({ "server key": alg, case: name, "ops/s": ops, "median µs": p.medianUs[name] });
      popRows.push({ "server key": alg, case: `× verifyDpopProof ÷ verifyHandle ${p.dpopVsHandleVerify.median}; signOriginAssertion ÷ verifyHandle ${p.assertionSignVsHandleVerify.median}; origin: assertion ÷ handle ${p.originAssertionVsOriginHandle.median}`, "ops/s": "", "median µs": "" });
    }
    out.push(table(popRows, ["server key", "case", "ops/s", "median µs"]));
  }
  const l = results.ledger;
  out.push("\n3. ledger calls from inside the Worker (ops/s; cost ratio = no-op ops/s ÷ target ops/s, median of per-round pairs)");
  out.push(table(Object.entries(l.loops).map(([key, s]) => ({ case: key, "ops/s": s.opsPerSec, "ms/op": s.meanMsPerOp, "workerd CPU ms/op": s.workerdCpuMsPerOp, "× noop": l.ratios[`${key.split("/")[0]}/${key.split("/")[1]} vs noop`]?.median ?? "" })), ["case", "ops/s", "ms/op", "workerd CPU ms/op", "× noop"]));
  out.push(`single calls timed from Node: authorize − noop median ${l.onceDeltaMs.authorizeMinusNoop.median} ms (p99 ${l.onceDeltaMs.authorizeMinusNoop.p99}); with 100k tasks ${l.onceDeltaMs.authorize100kMinusNoop.median} ms; one-row write − noop ${l.onceDeltaMs.noopWriteMinusNoop.median} ms`);
  out.push(`inside the object, µs per call: ${Object.entries(l.costsUsInObject).map(([k, v]) => `${k} ${v}`).join("; ")}`);
  out.push(`rows per authorize (folded poll): read ${l.metering.authorizeFolded.rowsRead}, written ${l.metering.authorizeFolded.rowsWritten}, statements ${l.metering.authorizeFolded.statements}; unfolded: read ${l.metering.authorizeUnfolded.rowsRead}, written ${l.metering.authorizeUnfolded.rowsWritten}; DPoP-bound poll: written ${l.metering.authorizeFoldedDpop?.rowsWritten}${l.metering.writeCounts ? `; one write of counted repeats: written ${l.metering.writeCounts.rowsWritten}` : ""}`);
  const s = results.sse;
  out.push("\n4. SSE rewriting (Node)");
  out.push(table(["rewrite", "reserialize", "identity"].map((k) => ({ stream: k, "events/s": s.throughput[k].eventsPerSec, "MB/s in": s.throughput[k].mbPerSecIn, "MB/s out": s.throughput[k].mbPerSecOut, "first byte median µs": s.firstByte[k].medianUs, "p99 µs": s.firstByte[k].p99Us })), ["stream", "events/s", "MB/s in", "MB/s out", "first byte median µs", "p99 µs"]));
  out.push(`rewrite ÷ identity events/s: ${s.throughput.rewriteVsIdentity.median}; rewrite ÷ reserialize: ${s.throughput.rewriteVsReserialize.median}`);
  out.push(table(s.memory.map((x) => ({ stream: x.kind, events: x.events, "peak heapUsed MiB": x.peakHeapUsedMiB, "peak RSS MiB": x.peakRssMiB, "heap before MiB": x.heapUsedBeforeMiB, "ms": x.ms })), ["stream", "events", "peak heapUsed MiB", "peak RSS MiB", "heap before MiB", "ms"]));
  const li = results.list;
  out.push(`\n5. tasks/list with ${li.tenantTasks} tasks in the tenant`);
  out.push(table(Object.entries(li.ownedHandles).map(([k, v]) => ({ case: k, "calls/s": v.opsPerSec, "ms/call": v.meanMsPerCall })), ["case", "calls/s", "ms/call"]));
  out.push(`ownedHandles cost ÷ no-op RPC with the same ids: 10 ids ${li.ownedRatios.owned10VsNoop.median}×, 100 ids ${li.ownedRatios.owned100VsNoop.median}×; rows read for 100 ids: ${li.metering.owned100.rowsRead} (${li.metering.owned100.statements} statements)`);
  out.push(`full tasks/list (100 tasks): taskward median ${li.tasksList.latency.taskward.median} ms (p99 ${li.tasksList.latency.taskward.p99}) vs bare ${li.tasksList.latency.bare.median} ms (p99 ${li.tasksList.latency.bare.p99}); ledger RPCs per list: ${JSON.stringify(li.tasksList.ledgerRpcsPerList)}; per tasks/get: ${JSON.stringify(li.ledgerRpcsPerTasksGet)}`);
  if (results.bundle) {
    const b = results.bundle;
    out.push(`\n7. deployable bundle (wrangler deploy --dry-run, gzip -9) and isolate start (fresh Node process: compile + evaluate; empty module ${b.emptyModuleStartMs.median} ms)`);
    const trees = Object.entries(b).filter(([k]) => k !== "emptyModuleStartMs");
    out.push(table(trees.map(([name, t]) => ({ tree: name, "bytes": t.bytes, "gzip -9 B": t.gzipBytes, "start ms (median)": t.startMs.median, "p90": t.startMs.p90, "− empty ms": t.startMinusEmptyMs, largest: Object.entries(t.largestBytesByPackage).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(", ") })), ["tree", "bytes", "gzip -9 B", "start ms (median)", "p90", "− empty ms", "largest"]));
  }
  if (results.stages) {
    out.push("\n8. CPU per stage of one tasks/get follow-up (Node, µs per call, stages timed alone)");
    out.push(table(results.stages.stages.map((x) => ({ stage: x.stage, "median µs": x.medianUs, "p99 µs": x.p99Us })), ["stage", "median µs", "p99 µs"]));
  }
  const cm = results.costModel;
  const { bySchedule, ...usdLines } = cm.usdPerMillionFollowUps;
  out.push(`\ncost per 1M follow-ups (USD, beyond included usage): ${JSON.stringify(usdLines)}`);
  if (bySchedule) {
    out.push(`by count schedule and polls a second on one object (rows per count write ${cm.countWriteModel.rowsPerCountWrite}, per DPoP proof ${cm.countWriteModel.rowsPerProof}):`);
    const scheduleRows = Object.entries(bySchedule).flatMap(([schedule, rates]) =>
      Object.entries(rates).map(([r, c]) => ({ schedule, "polls/s": r, "count rows/poll": c.countRowsPerPoll, "alarms/poll": c.alarmRequestsPerPoll, "USD/1M": c.usd, "USD/1M DPoP-bound": c.usdDpopBound })),
    );
    out.push(table(scheduleRows, ["schedule", "polls/s", "count rows/poll", "alarms/poll", "USD/1M", "USD/1M DPoP-bound"]));
  }
  out.push(`sharding: authorize ceiling ${cm.sharding.authorizeCeilingLocalOpsPerSec}/s locally, budget min(that, ${PRICES.doSoftLimitRps}) = ${cm.sharding.perObjectBudgetOpsPerSec} requests/s per object at ${cm.sharding.utilisation} utilisation, ${cm.sharding.objectRequestsPerFollowUp} object requests per follow-up → ${cm.sharding.followUpsPerSecPerShard} follow-ups/s per shard; shards at follow-ups/s ${JSON.stringify(cm.sharding.shardsAt)} (after P1: ${JSON.stringify(cm.sharding.shardsAtAfterP1)})`);
  out.push("\ntargets");
  out.push(table(results.targets.map((t) => ({ item: t.item, check: t.name, target: t.target, measured: t.measured, result: t.met ? "met" : "MISSED" })), ["item", "check", "target", "measured", "result"]));
  process.stdout.write(`${out.join("\n")}\n`);
}

/** Which code was measured: the commit and any uncommitted changes under src/. */
function sourceState() {
  const git = (...args) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  return { head: git("rev-parse", "HEAD") || null, uncommittedSrc: git("status", "--porcelain", "--", "src").split("\n").filter(Boolean) };
}

// ---------------------------------------------------------------- item 7: bundle and cold start

function bundleAndStart() {
  log(`item 7: deployable bundle and isolate start${COMPARE_REF ? ` (working tree beside ${COMPARE_REF})` : ""}`);
  const working = { root: ROOT, wranglerRoot: ROOT };
  if (!COMPARE_REF) return measureBundles({ working }, QUICK ? 3 : 15);
  const ref = treeAtRef(ROOT, COMPARE_REF);
  try {
    return measureBundles({ [COMPARE_REF]: ref.tree, working }, QUICK ? 3 : 15);
  } finally {
    ref.cleanup();
  }
}

// ---------------------------------------------------------------- main

/** A profile that could not be taken is reported in the results, not fatal to the run. */
const profileFailure = (error) => ({ error: String(error?.message ?? error) });

/** The isolate's CPU profile under tasks/get load on `path` (taskward's /mcp or a baseline's). */
function followUpProfile(stack, path, name) {
  return profileWorker(stack, ROOT, { devToken, createTask, identity: IDENTITY, headers: MCP_HEADERS, path, name }).catch(profileFailure);
}

/** Item 1 alone, beside COMPARE_REF's Worker when given; prints and writes the follow-up figures. */
async function followUpOnly() {
  const results = { startedAt: startedAt.toISOString(), quick: QUICK, sizes: SIZES, machine: machineInfo(ROOT), source: sourceState(), compareRef: COMPARE_REF, load: loads };
  const ref = COMPARE_REF ? treeAtRef(ROOT, COMPARE_REF, ["src", "bench", "wrangler.toml", "package.json", "tsconfig.json"]) : undefined;
  log("starting the fake origin and wrangler dev (bench Worker)" + (ref ? `, and a second one serving ${COMPARE_REF}` : ""));
  const stack = await startStack(ROOT);
  let refStack;
  try {
    if (ref) refStack = await startStack(ROOT, { buildRoot: ref.tree.root });
    results.stateDir = stack.stateDir;
    results.followUp = await followUpPath(stack, refStack);
    noteLoad("after follow-up path");
    if (PROFILE) {
      log("profiling the Worker isolate under taskward tasks/get load");
      results.profile = { workerFollowUp: await followUpProfile(stack, "/mcp", "worker-followup"), noopFollowUp: await followUpProfile(stack, "/noop/mcp", "worker-followup-noop") };
    }
  } finally {
    log("stopping wrangler dev and the fake origin");
    await refStack?.stop();
    await stack.stop();
    ref?.cleanup();
  }
  results.durationSeconds = Math.round((Date.now() - t0) / 1000);
  const file = OUT_FILE ?? "bench/results/follow-up.json";
  writeFileSync(join(ROOT, file), `${JSON.stringify(results, null, 2)}\n`);
  const { latency, latencyDeltaMs, throughput } = results.followUp;
  process.stdout.write(`${JSON.stringify({ latency, latencyDeltaMs, throughput: Object.fromEntries(Object.entries(throughput).map(([k, v]) => [k, { requestsPerSec: v.requestsPerSec, cpuMsPerRequest: v.workerdCpuMsPerRequest }])), audit: results.followUp.auditCheck.consistent, load: loads }, null, 2)}\n`);
  log(`wrote ${file} (${results.durationSeconds}s)`);
}

async function main() {
  if (FOLLOW_UP_ONLY) return followUpOnly();
  const results = { startedAt: startedAt.toISOString(), quick: QUICK, sizes: SIZES, machine: machineInfo(ROOT), source: sourceState(), load: loads };
  log(`machine: ${results.machine.cpuModel}, ${results.machine.cores} cores; load ${loads[0].load.join("/")}`);
  results.bundle = bundleAndStart();
  if (BUNDLE_ONLY) {
    process.stdout.write(`${JSON.stringify(results.bundle, null, 2)}\n`);
    return;
  }

  // Phase A: Node only.
  const cryptoNode = await cryptoInNode();
  results.crypto = { node: summarizeCrypto(cryptoNode), nodeRaw: cryptoNode };
  log("item 2: where verifyHandle's time goes (pieces timed alone, Node)");
  results.crypto.nodeBreakdownUs = await nodeScript("bench/node/verify-breakdown.ts", [QUICK ? 2 : 6, QUICK ? 100 : 300]);
  results.proofOfPossession = await proofOfPossessionInNode();
  results.sse = await sseInNode();
  log("item 8: CPU per stage of one tasks/get follow-up (Node, real src/ functions, no I/O)");
  results.stages = await nodeScript("bench/node/stages.ts", [QUICK ? 2 : 6, QUICK ? 40 : 100]);
  if (PROFILE) results.profile = await nodeProfiles();
  noteLoad("after Node phase");

  // Phase B: the Worker.
  log("starting the fake origin and wrangler dev (bench Worker)");
  const stack = await startStack(ROOT);
  results.stateDir = stack.stateDir;
  try {
    results.workerdClock = await clockCheck(stack);
    results.followUp = await followUpPath(stack);
    noteLoad("after follow-up path");
    results.ledger = await ledgerPath(stack);
    results.list = await listPath(stack);
    results.crypto.workerd = await cryptoInWorkerd(stack);
    if (PROFILE) {
      log("profiling the Worker isolate under taskward tasks/get load");
      results.profile ??= {};
      results.profile.workerFollowUp = await followUpProfile(stack, "/mcp", "worker-followup");
      log("profiling the Worker isolate under an authorize loop (16 in flight)");
      const who = { clientId: "ledger-client", subject: "ledger-user" };
      results.profile.ledgerAuthorize = await profileDuring(stack, ROOT, "ledger-authorize", () =>
        postJson(stack.base, "/bench/loop", { target: "authorize", tenant: "ledger-small", jtis: ["s-jti-0"], ...who, n: 3000, concurrency: 16 }),
      ).catch(profileFailure);
    }
  } finally {
    log("stopping wrangler dev and the fake origin");
    await stack.stop();
  }
  noteLoad("end");
  results.durationSeconds = Math.round((Date.now() - t0) / 1000);
  results.costModel = costModel(results);
  results.targets = targets(results);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, RESULTS_FILE), `${JSON.stringify(results, null, 2)}\n`);
  printReport(results);
  log(`wrote ${RESULTS_FILE} (${results.durationSeconds}s)`);
}

function reportOnly() {
  const file = join(ROOT, "bench/results/latest.json");
  const results = JSON.parse(readFileSync(file, "utf8"));
  results.costModel = costModel(results);
  results.targets = targets(results);
  results.derivedRecomputedAt = new Date().toISOString();
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  printReport(results);
}

(REPORT_ONLY ? Promise.resolve().then(reportOnly) : main()).catch((error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
});
