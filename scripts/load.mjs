#!/usr/bin/env node
/**
 * `npm run load`: a bounded load test of taskward with autocannon, against real processes on
 * loopback: the demo origin (`node --import tsx demo/main.ts`; one per origin, LOAD_ORIGINS) and
 * `wrangler dev --env dev` with a fresh signing key (--env-file), a fresh ledger (--persist-to a
 * temp dir) and the per-principal rate limits raised out of the way (--var), so the figures
 * measure the request path itself.
 *
 * Traffic: TENANTS tenants × PRINCIPALS principals, each with its own MCP session; a mix of
 * tools/call-as-task (create), tasks/get (poll), tasks/result, tasks/cancel, and a share of
 * follow-ups sent by a principal that does not own the handle (same tenant or another one), which
 * the ledger must refuse. Runs DURATION seconds on CONNECTIONS connections, then a 1 s drain
 * during which only GET /.well-known/jwks.json is sent (so no follow-up is in flight when autocannon
 * stops), then stops its children by process group.
 *
 * Afterwards it prints requests, errors, latency p50/p99, throughput and, per tenant, the audit
 * completeness check: follow-ups sent with that tenant's handles (the decisions the ledger had to
 * make) == allowed + denied events in the tenant's audit export (summing folded `count`s), owner
 * follow-ups == allowed, foreign ones == denied, creations == issued events, and
 * /audit/verify valid. The last line is a JSON summary. Exit code 1 if any check fails.
 *
 * Environment: LOAD_DURATION_S (20), LOAD_CONNECTIONS (8), LOAD_TENANTS (4), LOAD_PRINCIPALS (2),
 * LOAD_SEED (1) for the operation mix.
 *
 * LOAD_SHARDS=N (1) runs wrangler dev with LEDGER_SHARDS=N, so each tenant's handles spread over N
 * ledger shards (`LOAD_SHARDS=2` with the default 4 tenants: 4 tenants × 2 shards); the audit
 * completeness check is then also made per shard (each shard keeps its own chain): follow-ups
 * whose handle names the shard == its allowed + denied events, creations == its issued events,
 * and its chain verifies.
 *
 * LOAD_ORIGINS=N (1) starts N demo origins, all serving MCP 2025-11-25 (DEMO_REVISION: the mix uses
 * sessions and tasks/result, which 2026-07-28 does not have), and passes them to wrangler dev as
 * ORIGINS (`origin-1` … `origin-N`, the first also the default). Principals take the origins in
 * turn and each sends its whole share of the mix to `/mcp/<its origin>`; foreign follow-ups are
 * sent by a principal behind the same origin (one alone behind its origin polls its own handle
 * instead). With N > 1, each principal also opens a session behind the next origin and, spread
 * over the first 80% of the run, sends LOAD_CROSS_ORIGIN (4) `tasks/get`s with one of its own
 * handles there: each must answer -32602 "Task not found", none may reach an
 * origin (the demo origins' received logs, GET /__demo/received, hold no message with such an
 * id and no follow-up carrying another origin's handle), and each tenant's `origin_mismatch`
 * audit events (summing `count`s) equal the attempts with its handles; they count as denied
 * decisions in the shard their handle names. Requests, HTTP statuses, p50/p99 and unexpected
 * outcomes are also reported per origin.
 *
 * LOAD_HOSTILE=1 adds one hostile principal (tenant `load-hostile`) on LOAD_HOSTILE_CONNECTIONS (4)
 * connections of its own, at full speed, behind the first origin: alternately a garbage
 * `tasks/get` and a `tasks/get` with a valid handle of an owner behind that origin. The refusal
 * limit is then the real one (RATE_LIMIT_REFUSALS_PER_MINUTE 30; creations stay raised) and owners
 * send no foreign follow-ups of their own. Extra checks: owners never get a 429, every hostile
 * call is still counted in the audit (folded spans), the hostile principal's rows per ledger stay
 * within the documented bound (2 per denial reason and one-minute window;
 * docs/ledger-schema.md), and every chain verifies.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { generateSigningJwks } from "./dev-keys.mjs";
import { HOST, freePort, spawnGroup, waitUntil, writeSecretsFile } from "./lib/process-group.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const DURATION_S = intFromEnv("LOAD_DURATION_S", 20);
const CONNECTIONS = intFromEnv("LOAD_CONNECTIONS", 8);
const TENANTS = intFromEnv("LOAD_TENANTS", 4);
const PRINCIPALS = intFromEnv("LOAD_PRINCIPALS", 2);
const SEED = intFromEnv("LOAD_SEED", 1);
const SHARDS = intFromEnv("LOAD_SHARDS", 1);
const HOSTILE = process.env.LOAD_HOSTILE === "1";
const HOSTILE_CONNECTIONS = intFromEnv("LOAD_HOSTILE_CONNECTIONS", 4);
const ORIGIN_COUNT = intFromEnv("LOAD_ORIGINS", 1);
const CROSS_ORIGIN_PER_PRINCIPAL = intFromEnv("LOAD_CROSS_ORIGIN", 4);
/** The mix speaks MCP 2025-11-25 only (sessions, tasks/result), so every demo origin serves that revision. */
const ORIGIN_REVISION = "2025-11-25";
const REFUSALS_PER_MINUTE = 30;
const DRAIN_MS = 1_000;
/** Handles outlive the run, so an owner's poll is never refused for expiry (nor, below, for delivery). */
const TASK_TTL_MS = Math.max(120, DURATION_S + 120) * 1000;
const POOL_PER_PRINCIPAL = 4;
/** The operation mix (weights). `foreign` is a tasks/get by a principal that does not own the handle. */
const MIX = HOSTILE ? { create: 12, get: 50, result: 14, cancel: 9, foreign: 0 } : { create: 12, get: 50, result: 14, cancel: 9, foreign: 15 };

// ---- processes ----

const children = [];

function launch(label, args, env) {
  const child = spawnGroup(process.execPath, args, { cwd: ROOT, env, label });
  children.push(child);
  return child;
}

// ---- MCP helpers (setup and checks, outside the measured run) ----

/** Every JSON-RPC message in a JSON or SSE body. */
function messagesIn(body) {
  const text = String(body ?? "");
  if (text.trimStart().startsWith("{")) {
    try {
      return [JSON.parse(text)];
    } catch {
      return [];
    }
  }
  const messages = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data.trim()) continue;
    try {
      messages.push(JSON.parse(data));
    } catch {
      // not JSON
    }
  }
  return messages;
}

function claimsOf(handle) {
  return JSON.parse(Buffer.from(handle.split(".")[1], "base64url").toString("utf8"));
}

/** A principal's MCP session (or its session behind another origin: `principal.cross`). */
function mcpHeaders(principal) {
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${principal.token}`,
    "mcp-protocol-version": "2025-11-25",
  };
  if (principal.sessionId) headers["mcp-session-id"] = principal.sessionId;
  return headers;
}

async function rpc(base, principal, message) {
  const response = await fetch(`${base}${principal.path}`, { method: "POST", headers: mcpHeaders(principal), body: JSON.stringify(message) });
  const text = await response.text();
  return { response, reply: messagesIn(text).find((m) => m.id === message.id) };
}

function createMessage(id, delayMs) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow_echo", arguments: { text: `load ${id}`, delayMs }, task: { ttl: TASK_TTL_MS } } };
}

async function devToken(base, identity) {
  const tokenResponse = await fetch(`${base}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(identity) });
  if (tokenResponse.status !== 200) throw new Error(`dev token for ${JSON.stringify(identity)}: ${tokenResponse.status}`);
  return (await tokenResponse.json()).access_token;
}

/** Opens an MCP session behind `origin` ({name, path}); `token` reuses a principal's token. */
async function openPrincipal(base, identity, origin, token) {
  const principal = { ...identity, origin: origin.name, path: origin.path, token: token ?? (await devToken(base, identity)), sessionId: undefined, handles: [] };
  const init = await rpc(base, principal, {
    jsonrpc: "2.0",
    id: "init",
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, clientInfo: { name: "taskward-load", version: "0" } },
  });
  principal.sessionId = init.response.headers.get("mcp-session-id") ?? undefined;
  if (!init.reply?.result || !principal.sessionId) throw new Error(`initialize failed for ${identity.sub}`);
  await fetch(`${base}${principal.path}`, { method: "POST", headers: mcpHeaders(principal), body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  return principal;
}

/** The ledger shard a handle names (its `shd` claim; absent: shard 0). */
function shardOf(handle) {
  return claimsOf(handle).shd ?? 0;
}

async function auditOf(base, adminToken, tenant, shard = 0) {
  const rows = [];
  let after = 0;
  for (;;) {
    const response = await fetch(`${base}/admin/tenants/${tenant}/audit?after=${after}&limit=10000&shard=${shard}`, { headers: { authorization: `Bearer ${adminToken}` } });
    if (response.status !== 200) throw new Error(`audit export ${tenant}: ${response.status}`);
    for (const line of (await response.text()).split("\n")) if (line.trim()) rows.push(JSON.parse(line));
    const next = response.headers.get("audit-next-cursor");
    if (!next) return rows;
    after = Number(next);
  }
}

// ---- deterministic choices ----

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- main ----

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "taskward-load-"));
  const cleanup = async () => {
    await Promise.all(children.map((child) => child.stop()));
    rmSync(tmp, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }
  process.on("exit", () => children.forEach((child) => child.kill()));

  try {
    // 1. Secrets, ports, processes.
    const signingJwks = await generateSigningJwks();
    const kid = JSON.parse(signingJwks).active;
    const adminToken = randomBytes(24).toString("base64url");
    const secretsFile = join(tmp, "secrets.env");
    writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: signingJwks, ADMIN_TOKEN: adminToken });
    const port = await freePort();
    const base = `http://${HOST}:${port}`;
    // One origin: today's single-origin deployment at /mcp. Several: ORIGINS, each at /mcp/<name> (the first also at /mcp).
    const origins = [];
    for (let i = 1; i <= ORIGIN_COUNT; i++) {
      const originPort = await freePort();
      const name = `origin-${i}`;
      origins.push({ name, port: originPort, url: `http://${HOST}:${originPort}/mcp`, path: ORIGIN_COUNT > 1 ? `/mcp/${name}` : "/mcp" });
    }
    const originUrl = origins[0].url;
    console.log(`load: starting ${ORIGIN_COUNT} demo origin(s) (MCP ${ORIGIN_REVISION}) on ${origins.map((o) => o.url).join(", ")} and wrangler dev on ${base} (state in ${tmp})`);
    const originProcesses = origins.map((o) =>
      launch(`demo origin ${o.name}`, ["--import", "tsx", "demo/main.ts"], { DEMO_ORIGIN_PORT: String(o.port), DEMO_REVISION: ORIGIN_REVISION, TASKWARD_ISSUER: base }),
    );
    const authority = launch(
      "wrangler dev",
      [
        WRANGLER, "dev", "--env", "dev", "--ip", HOST, "--port", String(port),
        "--persist-to", join(tmp, "state"), "--env-file", secretsFile,
        "--var", `TASKWARD_ISSUER:${base}`, "--var", `ORIGIN_URL:${originUrl}`,
        "--var", `DELIVERY_GRACE_SECONDS:${Math.max(300, DURATION_S + 120)}`,
        "--var", "RATE_LIMIT_CREATIONS_PER_MINUTE:1000000", "--var", `RATE_LIMIT_REFUSALS_PER_MINUTE:${HOSTILE ? REFUSALS_PER_MINUTE : 1000000}`,
        ...(SHARDS > 1 ? ["--var", `LEDGER_SHARDS:${SHARDS}`] : []),
        ...(ORIGIN_COUNT > 1 ? ["--var", `ORIGINS:${JSON.stringify(origins.map(({ name, url }) => ({ name, url })))}`] : []),
        "--show-interactive-dev-session=false",
      ],
      { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    );
    console.log(`load: children by PID: ${originProcesses.map((child) => `${child.label} ${child.pid}`).join(", ")}, wrangler dev ${authority.pid} (each its own process group)`);
    for (const [i, o] of origins.entries()) await waitUntil(o.url, (response) => response.status < 500, originProcesses[i]);
    await waitUntil(`${base}/.well-known/jwks.json`, (response, body) => response.status === 200 && body.includes(`"${kid}"`), authority);

    // 2. Principals, sessions, a starting pool of handles.
    // Principals take the origins in turn (with 2 principals a tenant and 2 origins: one of each tenant behind each origin);
    // with several origins each also opens a session behind the next origin, for the cross-origin attempts.
    const principals = [];
    const tenants = Array.from({ length: TENANTS }, (_, i) => `load-t${i + 1}`);
    for (const tenant of tenants) {
      for (let p = 1; p <= PRINCIPALS; p++) {
        const home = origins[principals.length % ORIGIN_COUNT];
        const principal = await openPrincipal(base, { tenant, client_id: `load-cli-${p}`, sub: `user-${p}` }, home);
        if (ORIGIN_COUNT > 1) principal.cross = await openPrincipal(base, { tenant, client_id: principal.client_id, sub: principal.sub }, origins[(origins.indexOf(home) + 1) % ORIGIN_COUNT], principal.token);
        principals.push(principal);
      }
    }
    const hostile = HOSTILE ? await openPrincipal(base, { tenant: "load-hostile", client_id: "hostile-cli", sub: "mallory" }, origins[0]) : undefined;
    /** The origin each handle was minted behind, by jti. */
    const mintedBehind = new Map();
    const remember = (principal, handle) => {
      principal.handles.push(handle);
      mintedBehind.set(claimsOf(handle).jti, principal.origin);
    };
    const auditedTenants = hostile ? [...tenants, hostile.tenant] : tenants;
    const perTenant = Object.fromEntries(auditedTenants.map((t) => [t, { followUps: 0, ownerFollowUps: 0, foreignFollowUps: 0, answered: 0, created: 0 }]));
    // The same counts per ledger shard: a follow-up is decided (and audited) in the shard its handle names.
    const perShard = Object.fromEntries(auditedTenants.map((t) => [t, Array.from({ length: SHARDS }, () => ({ followUps: 0, ownerFollowUps: 0, foreignFollowUps: 0, created: 0 }))]));
    /** One follow-up sent about a handle of `tenant`'s shard `shard`, by its owner or by someone else. */
    const countFollowUp = (tenant, shard, owner) => {
      for (const counts of [perTenant[tenant], perShard[tenant][shard]]) {
        counts.followUps++;
        if (owner) counts.ownerFollowUps++;
        else counts.foreignFollowUps++;
      }
    };
    let setupId = 0;
    for (const principal of principals) {
      for (let i = 0; i < POOL_PER_PRINCIPAL; i++) {
        const { reply } = await rpc(base, principal, createMessage(`setup-${setupId++}`, 0));
        const handle = reply?.result?.task?.taskId;
        if (typeof handle !== "string") throw new Error(`setup task not created: ${JSON.stringify(reply)}`);
        remember(principal, handle);
        perTenant[principal.tenant].created++;
        perShard[principal.tenant][shardOf(handle)].created++;
      }
    }
    console.log(
      `load: ${principals.length} principals in ${tenants.length} tenants over ${ORIGIN_COUNT} origin(s) (${origins.map((o) => `${o.path}: ${principals.filter((p) => p.origin === o.name).length}`).join(", ")}), ${principals.length * POOL_PER_PRINCIPAL} tasks to start with`,
    );

    // 3. The run.
    const random = mulberry32(SEED);
    const total = Object.values(MIX).reduce((a, b) => a + b, 0);
    const pick = (list) => list[Math.floor(random() * list.length)];
    const pending = new Map();
    const latencies = [];
    const hostileOutcomes = { sent: 0, answered: 0, garbage: 0, foreign: 0, notFound: 0, rateLimited: 0, other: [], httpStatus: {} };
    const ownerStatuses = {};
    const outcomes = { create: 0, createRefused: 0, get: 0, result: 0, cancel: 0, foreign: 0, allowedAnswers: 0, refusedAnswers: 0, unexpected: [], httpStatus: {} };
    const perOrigin = Object.fromEntries(origins.map((o) => [o.name, { path: o.path, sent: 0, answered: 0, httpStatus: {}, latencies: [], unexpected: [] }]));
    let sent = 0;
    let answered = 0;
    let nextId = 0;
    let draining = false;

    function nextOperation() {
      let roll = random() * total;
      for (const [op, weight] of Object.entries(MIX)) {
        if ((roll -= weight) < 0) return op;
      }
      return "get";
    }

    function setupRequest(request) {
      if (draining) return { ...request, method: "GET", path: "/.well-known/jwks.json", headers: {}, body: "" };
      const op = nextOperation();
      const id = `L${nextId++}`;
      let principal = pick(principals);
      let message;
      let meta;
      if (op === "create" || principal.handles.length === 0) {
        message = createMessage(id, Math.floor(random() * 200));
        meta = { op: "create", principal };
      } else if (op === "foreign" && principals.some((p) => p !== principal && p.origin === principal.origin)) {
        // Sent behind the handle's own origin, so the refusal is for the principal (another origin's is counted apart).
        const owner = principal;
        const others = principals.filter((p) => p !== owner && p.origin === owner.origin);
        principal = pick(others);
        const handle = pick(owner.handles);
        message = { jsonrpc: "2.0", id, method: "tasks/get", params: { taskId: handle } };
        meta = { op, principal, handleTenant: owner.tenant, handleShard: shardOf(handle), owner: false };
      } else {
        const handle = pick(principal.handles);
        // A "foreign" pick with no other principal behind the origin polls the caller's own task instead.
        const ownOp = op === "foreign" ? "get" : op;
        message = { jsonrpc: "2.0", id, method: `tasks/${ownOp}`, params: { taskId: handle } };
        meta = { op: ownOp, principal, handleTenant: principal.tenant, handleShard: shardOf(handle), owner: true };
      }
      if (meta.handleTenant) countFollowUp(meta.handleTenant, meta.handleShard, meta.owner);
      meta.origin = principal.origin;
      meta.sentAt = performance.now();
      pending.set(id, meta);
      sent++;
      perOrigin[meta.origin].sent++;
      return { ...request, method: "POST", path: principal.path, headers: mcpHeaders(principal), body: JSON.stringify(message) };
    }

    function onResponse(status, body) {
      outcomes.httpStatus[status] = (outcomes.httpStatus[status] ?? 0) + 1;
      if (status === 429) outcomes.unexpected.push(`an owner got 429: ${String(body).slice(0, 200)}`);
      const messages = messagesIn(body);
      const reply = messages.find((m) => typeof m.id === "string" && pending.has(m.id) && ("result" in m || "error" in m));
      if (!reply) {
        if (!String(body).includes('"keys"')) outcomes.unexpected.push(`HTTP ${status} without a reply: ${String(body).slice(0, 200)}`);
        return;
      }
      const meta = pending.get(reply.id);
      pending.delete(reply.id);
      answered++;
      const atOrigin = perOrigin[meta.origin];
      const unexpectedBefore = outcomes.unexpected.length;
      atOrigin.answered++;
      atOrigin.httpStatus[status] = (atOrigin.httpStatus[status] ?? 0) + 1;
      atOrigin.latencies.push(performance.now() - meta.sentAt);
      latencies.push(atOrigin.latencies.at(-1));
      try {
        judge(reply, meta);
      } finally {
        atOrigin.unexpected.push(...outcomes.unexpected.slice(unexpectedBefore));
      }
    }

    function judge(reply, meta) {
      outcomes[meta.op]++;
      if (meta.handleTenant) perTenant[meta.handleTenant].answered++;
      if (meta.op === "create") {
        const handle = reply.result?.task?.taskId;
        if (typeof handle === "string") {
          remember(meta.principal, handle);
          perTenant[meta.principal.tenant].created++;
          perShard[meta.principal.tenant][shardOf(handle)].created++;
        } else {
          outcomes.createRefused++;
          outcomes.unexpected.push(`create refused: ${JSON.stringify(reply).slice(0, 200)}`);
        }
        return;
      }
      const refusedByTaskward = reply.error?.code === -32602 && reply.error?.message === "Task not found";
      if (refusedByTaskward) outcomes.refusedAnswers++;
      else outcomes.allowedAnswers++;
      if (meta.owner === refusedByTaskward) outcomes.unexpected.push(`${meta.op} by ${meta.owner ? "owner" : "non-owner"} answered ${JSON.stringify(reply).slice(0, 200)}`);
    }

    console.log(`load: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s (+${DRAIN_MS} ms drain), mix ${JSON.stringify(MIX)}, seed ${SEED}`);
    const startedAt = performance.now();
    const instance = autocannon({
      url: base,
      connections: CONNECTIONS,
      pipelining: 1,
      duration: DURATION_S + 30,
      timeout: 30,
      requests: [{ setupRequest, onResponse }],
    });
    const finished = new Promise((done, fail) => instance.once("done", done).once("error", fail));

    // The hostile principal: its own connections, full speed, garbage and foreign-handle polls alternately.
    let hostileNext = 0;
    const hostilePending = new Map();
    function hostileRequest(request) {
      if (draining) return { ...request, method: "GET", path: "/.well-known/jwks.json", headers: {}, body: "" };
      const id = `H${hostileNext++}`;
      const garbage = hostileNext % 2 === 0;
      // Owners behind the hostile principal's own origin: another origin's handle would be refused for that instead.
      const owner = pick(principals.filter((p) => p.origin === hostile.origin));
      const taskId = garbage ? `garbage-${randomBytes(12).toString("base64url")}` : pick(owner.handles);
      const victim = garbage ? hostile.tenant : owner.tenant;
      // A garbage id verifies as no handle: refused and audited in shard 0 of the caller's own ledger.
      countFollowUp(victim, garbage ? 0 : shardOf(taskId), false);
      hostilePending.set(id, garbage ? "garbage" : "foreign");
      hostileOutcomes.sent++;
      return { ...request, method: "POST", path: hostile.path, headers: mcpHeaders(hostile), body: JSON.stringify({ jsonrpc: "2.0", id, method: "tasks/get", params: { taskId } }) };
    }
    function hostileResponse(status, body) {
      hostileOutcomes.httpStatus[status] = (hostileOutcomes.httpStatus[status] ?? 0) + 1;
      const reply = messagesIn(body).find((m) => typeof m.id === "string" && hostilePending.has(m.id));
      if (!reply) {
        if (!String(body).includes('"keys"')) hostileOutcomes.other.push(`HTTP ${status}: ${String(body).slice(0, 200)}`);
        return;
      }
      hostileOutcomes[hostilePending.get(reply.id)]++;
      hostilePending.delete(reply.id);
      hostileOutcomes.answered++;
      if (status === 429 && reply.error?.code === -32029) hostileOutcomes.rateLimited++;
      else if (status === 200 && reply.error?.code === -32602) hostileOutcomes.notFound++;
      else hostileOutcomes.other.push(`HTTP ${status}: ${JSON.stringify(reply).slice(0, 200)}`);
    }
    const hostileInstance = hostile
      ? autocannon({ url: base, connections: HOSTILE_CONNECTIONS, pipelining: 1, duration: DURATION_S + 30, timeout: 30, requests: [{ setupRequest: hostileRequest, onResponse: hostileResponse }] })
      : undefined;
    const hostileFinished = hostileInstance ? new Promise((done, fail) => hostileInstance.once("done", done).once("error", fail)) : Promise.resolve(undefined);

    // Cross-origin attempts, spread over the first 80% of the run: each principal polls one of its own handles
    // behind the next origin (through its session there), which must answer -32602 and reach no origin.
    const cross = { attempts: 0, refusedNotFound: 0, other: [], byPair: {}, perTenant: Object.fromEntries(auditedTenants.map((t) => [t, 0])) };
    const crossRandom = mulberry32(SEED + 1);
    const crossOrigin = (async () => {
      if (ORIGIN_COUNT < 2) return;
      const gapMs = (DURATION_S * 1000 * 0.8) / (CROSS_ORIGIN_PER_PRINCIPAL * principals.length);
      for (let round = 0; round < CROSS_ORIGIN_PER_PRINCIPAL; round++) {
        for (const principal of principals) {
          await sleep(gapMs);
          const handle = principal.handles[Math.floor(crossRandom() * principal.handles.length)];
          countFollowUp(principal.tenant, shardOf(handle), false);
          cross.perTenant[principal.tenant]++;
          const pair = `${principal.origin} -> ${principal.cross.origin}`;
          cross.byPair[pair] = (cross.byPair[pair] ?? 0) + 1;
          cross.attempts++;
          const { response, reply } = await rpc(base, principal.cross, { jsonrpc: "2.0", id: `X${cross.attempts}`, method: "tasks/get", params: { taskId: handle } });
          if (response.status === 200 && reply?.error?.code === -32602 && reply.error.message === "Task not found" && !("result" in reply)) cross.refusedNotFound++;
          else cross.other.push(`${pair}: HTTP ${response.status} ${JSON.stringify(reply ?? null).slice(0, 200)}`);
        }
      }
    })();

    const drainTimer = setTimeout(() => (draining = true), DURATION_S * 1000);
    const stopTimer = setTimeout(() => {
      instance.stop();
      hostileInstance?.stop();
    }, DURATION_S * 1000 + DRAIN_MS);
    const [result, hostileResult] = await Promise.all([finished, hostileFinished, crossOrigin]);
    clearTimeout(drainTimer);
    clearTimeout(stopTimer);
    const measuredSeconds = Math.min(DURATION_S, (performance.now() - startedAt) / 1000);

    // 4. What each origin received: no call with another origin's handle, none of the cross-origin attempts (ids X<n>).
    await sleep(500); // let waitUntil work (status observations) settle; decisions are synchronous
    const received = {};
    if (ORIGIN_COUNT > 1) {
      for (const o of origins) {
        const response = await fetch(`http://${HOST}:${o.port}/__demo/received`);
        if (response.status !== 200) throw new Error(`${o.name} received log: ${response.status}`);
        const messages = await response.json();
        const withHandle = messages.filter((m) => typeof m.assertion?.handleJti === "string");
        received[o.name] = {
          messages: messages.length,
          runCallsSeen: messages.filter((m) => typeof m.id === "string" && /^L\d+$/.test(m.id)).length,
          followUpsWithHandle: withHandle.length,
          otherOriginsHandles: withHandle.filter((m) => mintedBehind.get(m.assertion.handleJti) !== o.name).length,
          crossOriginAttempts: messages.filter((m) => typeof m.id === "string" && /^X\d+$/.test(m.id)).length,
        };
      }
    }

    // 5. Audit completeness, per tenant.
    const round = (n) => (n === null ? null : Math.round(n * 10) / 10);
    const tenantsReport = {};
    let allGood = true;
    // Documented bound: 2 rows per denial reason and one-minute window; the hostile principal meets two reasons per ledger.
    const windows = Math.ceil((DURATION_S * 1000 + DRAIN_MS) / 60_000);
    // Per ledger object: with shards, each shard of a tenant is one.
    const hostileRowBound = 2 * 2 * windows * SHARDS;
    for (const tenant of auditedTenants) {
      const shardRows = [];
      for (let shard = 0; shard < SHARDS; shard++) shardRows.push(await auditOf(base, adminToken, tenant, shard));
      const rows = shardRows.flat();
      const sumOf = (list, type) => list.filter((r) => r.type === type).reduce((n, r) => n + r.count, 0);
      const sum = (type) => sumOf(rows, type);
      const allowed = sum("allowed");
      const denied = sum("denied");
      const issued = rows.filter((r) => r.type === "issued").length;
      const originMismatch = rows.filter((r) => r.type === "denied" && r.reason === "origin_mismatch").reduce((n, r) => n + r.count, 0);
      const verify = await (await fetch(`${base}/admin/tenants/${tenant}/audit/verify`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
      // Per shard: that shard's decisions against that shard's chain, and its own verification.
      const shards = shardRows.map((list, shard) => {
        const counts = perShard[tenant][shard];
        const verified = SHARDS > 1 ? verify.shards?.find((v) => v.shard === shard) : verify;
        const [shardAllowed, shardDenied] = [sumOf(list, "allowed"), sumOf(list, "denied")];
        const shardIssued = list.filter((r) => r.type === "issued").length;
        const shardChecks = {
          decisionsEqualEvents: counts.followUps === shardAllowed + shardDenied,
          ownerFollowUpsEqualAllowed: counts.ownerFollowUps === shardAllowed,
          foreignFollowUpsEqualDenied: counts.foreignFollowUps === shardDenied,
          creationsEqualIssued: counts.created === shardIssued,
          chainValid: verified?.valid === true,
        };
        return { shard, decisionsMade: counts.followUps, eventsRecorded: shardAllowed + shardDenied, allowedEvents: shardAllowed, deniedEvents: shardDenied, creations: counts.created, issuedEvents: shardIssued, auditRows: list.length, verify: { valid: verified?.valid, events: verified?.events }, checks: shardChecks };
      });
      const mine = perTenant[tenant];
      const hostileRows = hostile ? rows.filter((r) => r.client_id === hostile.client_id && r.subject === hostile.sub) : [];
      const checks = {
        decisionsEqualEvents: mine.followUps === allowed + denied,
        ownerFollowUpsEqualAllowed: mine.ownerFollowUps === allowed,
        foreignFollowUpsEqualDenied: mine.foreignFollowUps === denied,
        creationsEqualIssued: mine.created === issued,
        chainValid: verify.valid === true,
        ...(hostile ? { hostileRowsWithinBound: hostileRows.length <= hostileRowBound } : {}),
        ...(SHARDS > 1 ? { everyShardComplete: shards.every((s) => Object.values(s.checks).every(Boolean)) } : {}),
        ...(ORIGIN_COUNT > 1 ? { crossOriginAttemptsEqualOriginMismatch: cross.perTenant[tenant] === originMismatch } : {}),
      };
      if (!Object.values(checks).every(Boolean)) allGood = false;
      tenantsReport[tenant] = {
        decisionsMade: mine.followUps,
        answered: mine.answered,
        eventsRecorded: allowed + denied,
        allowedEvents: allowed,
        deniedEvents: denied,
        auditRows: rows.length,
        ownerFollowUps: mine.ownerFollowUps,
        foreignFollowUps: mine.foreignFollowUps,
        creations: mine.created,
        issuedEvents: issued,
        verify: { valid: verify.valid, events: verify.events },
        ...(ORIGIN_COUNT > 1 ? { crossOriginAttempts: cross.perTenant[tenant], originMismatchEvents: originMismatch } : {}),
        ...(SHARDS > 1 ? { shards } : {}),
        ...(hostile ? { hostileRows: hostileRows.length, hostileRowBound, hostileCallsCounted: hostileRows.reduce((n, r) => n + r.count, 0), hostileReasons: [...new Set(hostileRows.map((r) => r.reason))] } : {}),
        checks,
      };
    }
    if (sent !== answered) allGood = false;
    if (hostile && (hostileOutcomes.sent !== hostileOutcomes.answered || hostileOutcomes.other.length > 0)) allGood = false;
    if (outcomes.unexpected.length > 0) allGood = false;
    const crossChecks =
      ORIGIN_COUNT > 1
        ? {
            allSent: cross.attempts === CROSS_ORIGIN_PER_PRINCIPAL * principals.length,
            everyOneAnsweredNotFound: cross.refusedNotFound === cross.attempts,
            noneForwarded: Object.values(received).every((r) => r.crossOriginAttempts === 0),
            noOriginGotAnotherOriginsHandle: Object.values(received).every((r) => r.otherOriginsHandles === 0),
          }
        : {};
    if (!Object.values(crossChecks).every(Boolean)) allGood = false;
    const perOriginReport = Object.fromEntries(
      Object.entries(perOrigin).map(([name, o]) => {
        const sorted = [...o.latencies].sort((a, b) => a - b);
        return [name, { path: o.path, sent: o.sent, answered: o.answered, statusCodes: o.httpStatus, latencyMs: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) }, unexpectedCount: o.unexpected.length, unexpected: o.unexpected.slice(0, 5), received: received[name] }];
      }),
    );

    latencies.sort((a, b) => a - b);
    const summary = {
      command: "npm run load",
      config: { durationSeconds: DURATION_S, connections: CONNECTIONS, tenants: TENANTS, principalsPerTenant: PRINCIPALS, ledgerShards: SHARDS, origins: origins.map((o) => ({ name: o.name, path: o.path, revision: ORIGIN_REVISION })), crossOriginPerPrincipal: ORIGIN_COUNT > 1 ? CROSS_ORIGIN_PER_PRINCIPAL : 0, mix: MIX, seed: SEED, rateLimitsRaised: HOSTILE ? "creations only" : true, hostile: HOSTILE },
      mcpRequests: {
        sent,
        answered,
        unansweredAtStop: sent - answered,
        byOperation: { create: outcomes.create, get: outcomes.get, result: outcomes.result, cancel: outcomes.cancel, foreignGet: outcomes.foreign },
        followUpsAllowed: outcomes.allowedAnswers,
        followUpsRefused: outcomes.refusedAnswers,
        createsRefused: outcomes.createRefused,
        latencyMs: { p50: round(percentile(latencies, 50)), p90: round(percentile(latencies, 90)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? null) },
        throughputPerSecond: round(answered / measuredSeconds),
        unexpected: outcomes.unexpected.slice(0, 10),
        unexpectedCount: outcomes.unexpected.length,
      },
      autocannon: {
        requests: result.requests.total,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        statusCodes: outcomes.httpStatus,
        latencyMs: { p50: result.latency.p50, p99: result.latency.p99, average: result.latency.average },
        requestsPerSecond: result.requests.average,
        bytesPerSecond: result.throughput.average,
        seconds: result.duration,
        note: "includes the 1 s drain of GET /.well-known/jwks.json",
      },
      ...(hostile
        ? {
            hostile: {
              connections: HOSTILE_CONNECTIONS,
              sent: hostileOutcomes.sent,
              answered: hostileOutcomes.answered,
              garbagePolls: hostileOutcomes.garbage,
              foreignHandlePolls: hostileOutcomes.foreign,
              answeredNotFound: hostileOutcomes.notFound,
              answered429: hostileOutcomes.rateLimited,
              other: hostileOutcomes.other.slice(0, 10),
              otherCount: hostileOutcomes.other.length,
              autocannonRequests: hostileResult.requests.total,
              refusalsPerMinute: REFUSALS_PER_MINUTE,
            },
            totalCalls: sent + hostileOutcomes.sent,
            ownerStatusCodes: outcomes.httpStatus,
          }
        : {}),
      perOrigin: perOriginReport,
      ...(ORIGIN_COUNT > 1 ? { crossOrigin: { attempts: cross.attempts, byPair: cross.byPair, answeredNotFound: cross.refusedNotFound, other: cross.other.slice(0, 10), otherCount: cross.other.length, checks: crossChecks } } : {}),
      auditCompleteness: tenantsReport,
      ok: allGood,
    };

    console.log("");
    console.log(`requests   ${sent} MCP requests sent, ${answered} answered (${sent - answered} unanswered); autocannon total ${result.requests.total}`);
    console.log(`errors     autocannon errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}; unexpected MCP outcomes ${outcomes.unexpected.length}`);
    console.log(`latency    MCP p50 ${summary.mcpRequests.latencyMs.p50} ms, p99 ${summary.mcpRequests.latencyMs.p99} ms (autocannon p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms)`);
    console.log(`throughput ${summary.mcpRequests.throughputPerSecond} MCP req/s over ${DURATION_S} s; autocannon ${result.requests.average} req/s, ${Math.round(result.throughput.average)} B/s`);
    if (hostile) {
      console.log(
        `hostile    ${hostileOutcomes.sent} calls (${hostileOutcomes.garbage} garbage, ${hostileOutcomes.foreign} foreign-handle): ${hostileOutcomes.notFound} answered -32602, ${hostileOutcomes.rateLimited} answered 429, ${hostileOutcomes.other.length} other; ` +
          `owners' HTTP statuses ${JSON.stringify(outcomes.httpStatus)}; total MCP calls ${sent + hostileOutcomes.sent}`,
      );
      for (const [tenant, report] of Object.entries(tenantsReport)) {
        console.log(`hostile    ${tenant}: ${report.hostileRows} audit rows (bound ${report.hostileRowBound}) standing for ${report.hostileCallsCounted} calls, reasons ${report.hostileReasons.join(", ") || "-"}`);
      }
    }
    for (const [name, o] of Object.entries(perOriginReport)) {
      console.log(
        `origin     ${name} (${o.path}): ${o.sent} sent, ${o.answered} answered, HTTP ${JSON.stringify(o.statusCodes)}, p50 ${o.latencyMs.p50} ms, p99 ${o.latencyMs.p99} ms, unexpected ${o.unexpectedCount}` +
          (o.received ? `; it received ${o.received.messages} messages (${o.received.runCallsSeen} of the run's calls, ${o.received.followUpsWithHandle} follow-ups), ${o.received.otherOriginsHandles} with another origin's handle, ${o.received.crossOriginAttempts} cross-origin attempts` : ""),
      );
    }
    if (ORIGIN_COUNT > 1) {
      console.log(
        `cross      ${cross.attempts} cross-origin tasks/get (${Object.entries(cross.byPair).map(([pair, n]) => `${pair}: ${n}`).join(", ")}): ${cross.refusedNotFound} answered -32602 "Task not found", ${cross.other.length} other; ` +
          `origin_mismatch events ${Object.values(tenantsReport).reduce((n, r) => n + r.originMismatchEvents, 0)} → ${Object.values(crossChecks).every(Boolean) && Object.values(tenantsReport).every((r) => r.checks.crossOriginAttemptsEqualOriginMismatch) ? "ok" : "MISMATCH"}`,
      );
    }
    for (const [tenant, report] of Object.entries(tenantsReport)) {
      console.log(
        `audit      ${tenant}: decisions ${report.decisionsMade} vs events ${report.eventsRecorded} (allowed ${report.allowedEvents} / owner follow-ups ${report.ownerFollowUps}, denied ${report.deniedEvents} / foreign ${report.foreignFollowUps}), ` +
          `issued ${report.issuedEvents} / created ${report.creations}, chain ${report.verify.valid ? "valid" : "INVALID"} (${report.verify.events} rows) → ${Object.values(report.checks).every(Boolean) ? "ok" : "MISMATCH"}`,
      );
      for (const shard of report.shards ?? []) {
        console.log(
          `audit      ${tenant} shard ${shard.shard}: decisions ${shard.decisionsMade} vs events ${shard.eventsRecorded} (allowed ${shard.allowedEvents}, denied ${shard.deniedEvents}), ` +
            `issued ${shard.issuedEvents} / created ${shard.creations}, chain ${shard.verify.valid ? "valid" : "INVALID"} (${shard.verify.events} rows) → ${Object.values(shard.checks).every(Boolean) ? "ok" : "MISMATCH"}`,
        );
      }
    }
    console.log(JSON.stringify(summary));
    return allGood ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`load: ${error.stack ?? error.message}`);
    for (const child of children) if (child.output()) console.error(`--- ${child.label} (last output) ---\n${child.output().slice(-4000)}`);
    process.exit(1);
  },
);
