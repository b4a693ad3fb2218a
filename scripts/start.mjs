#!/usr/bin/env node
/**
 * `npm start`: two demo origin MCP servers — one serving MCP 2025-11-25, one 2026-07-28 — plus
 * taskward under `wrangler dev --env dev` fronting both (ORIGINS: "legacy" at /mcp/legacy and, as
 * the default, at /mcp; "modern" at /mcp/modern), on loopback, with a signing key kept in the dev
 * vars file so handles survive a restart.
 *
 * Environment:
 *   TASKWARD_PORT        port of the authority (8787)
 *   DEMO_ORIGIN_PORT     port of the 2025-11-25 demo origin (8788)
 *   DEMO_MODERN_ORIGIN_PORT  port of the 2026-07-28 demo origin (8789)
 *   TASKWARD_DEV_VARS    dev secrets file to use, passed to wrangler as --env-file (default: the
 *                        file `wrangler dev --env dev` reads itself: .dev.vars.dev if it exists,
 *                        else .dev.vars)
 *   TASKWARD_PERSIST_TO  ledger state directory (default: wrangler's .wrangler/state)
 *
 * Ctrl-C or SIGTERM stops all three processes and exits 0; if one dies, the others are stopped
 * and this exits 1.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { DEFAULT_DEV_ADMIN_TOKEN, ensureDevVars } from "./dev-keys.mjs";
import { HOST, portIsFree, spawnGroup } from "./lib/process-group.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_TASKWARD_PORT = 8787;
const DEFAULT_ORIGIN_PORT = 8788;
const DEFAULT_MODERN_ORIGIN_PORT = 8789;
const SLOW_START_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const DEV_IDENTITY = { tenant: "acme", client_id: "demo-cli", sub: "alice" };

// ---- what to print ----

/**
 * The by-hand tour: bash/zsh lines that get a token, open a session, create a task, poll it,
 * fetch its result and revoke it. test/e2e/start-script.e2e.test.ts runs them as printed.
 */
function curlTour({ base, adminToken }) {
  const json = (value) => `'${JSON.stringify(value)}'`;
  const withHandle = (method, id) => `'{"jsonrpc":"2.0","id":${id},"method":"${method}","params":{"taskId":"'"$HANDLE"'"}}'`;
  return [
    ["the authority", `B=${base}`],
    [
      `a dev bearer token for tenant ${DEV_IDENTITY.tenant}, client ${DEV_IDENTITY.client_id}, subject ${DEV_IDENTITY.sub}`,
      `TOKEN=$(curl -s -X POST "$B/dev/token" -H 'content-type: application/json' -d ${json(DEV_IDENTITY)} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    ],
    [
      "curl arguments for MCP over Streamable HTTP",
      `MCP=(-s -w '\\n' -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')`,
    ],
    [
      "initialize an MCP session and keep its Mcp-Session-Id",
      `S=$(curl "\${MCP[@]}" -D - -o /dev/null "$B/mcp" -d ${json({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "0" } } })} | tr -d '\\r' | awk 'tolower($1)=="mcp-session-id:"{print $2}')`,
    ],
    ["", `MCP+=(-H "mcp-session-id: $S"); curl "\${MCP[@]}" "$B/mcp" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'`],
    [
      "create a slow_echo task: the taskId that comes back is a signed handle, not the origin's id",
      `HANDLE=$(curl "\${MCP[@]}" "$B/mcp" -d ${json({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "slow_echo", arguments: { text: "hello from taskward", delayMs: 3000 }, task: { ttl: 600000 } } })} | sed -n 's/.*"taskId":"\\([^"]*\\)".*/\\1/p' | head -n 1); echo "$HANDLE"`,
    ],
    ["poll it (status working, then completed)", `curl "\${MCP[@]}" "$B/mcp" -d ${withHandle("tasks/get", 3)}`],
    ["fetch its result (blocks until the task is done)", `curl "\${MCP[@]}" "$B/mcp" -d ${withHandle("tasks/result", 4)}`],
    [
      "revoke the handle through the admin API",
      `curl -s -w '\\n' "$B/admin/revocations" -H 'authorization: Bearer ${adminToken}' -H 'content-type: application/json' -d '{"handle":"'"$HANDLE"'"}'`,
    ],
    ['the same tasks/get is now refused: JSON-RPC -32602 "Task not found", and the origin never sees it', `curl "\${MCP[@]}" "$B/mcp" -d ${withHandle("tasks/get", 5)}`],
  ];
}

function walkthroughCommand(base, adminToken) {
  const env = [];
  if (base !== `http://${HOST}:${DEFAULT_TASKWARD_PORT}`) env.push(`TASKWARD_URL=${base}`);
  if (adminToken !== DEFAULT_DEV_ADMIN_TOKEN) env.push(`ADMIN_TOKEN='${adminToken}'`);
  return [...env, "node scripts/demo-walkthrough.mjs"].join(" ");
}

function nextSteps({ base, originUrl, modernOriginUrl, adminToken, devVarsPath, kid, persistTo }) {
  const lines = [
    "",
    "taskward is running (dev mode)",
    `  MCP endpoint   ${base}/mcp   (the default origin: legacy)`,
    `  MCP endpoint (legacy, 2025-11-25): ${base}/mcp/legacy`,
    `  MCP endpoint (modern, 2026-07-28): ${base}/mcp/modern`,
    `  handle keys    ${base}/.well-known/jwks.json   (signing key ${kid}, kept in ${devVarsPath})`,
    `  demo origin    ${originUrl}   (MCP 2025-11-25; verifies the origin assertion on every forwarded call)`,
    `  demo origin    ${modernOriginUrl}   (MCP 2026-07-28; the same checks)`,
    `  admin token    ${adminToken}   (break-glass; operators sign in with roles)`,
    `  console        ${base}/console   (operator token: curl -s -X POST ${base}/dev/operator-token -H 'content-type: application/json' -d '{"sub":"me","roles":["taskward:read","taskward:revoke","taskward:cancel","taskward:audit"],"tenants":"*"}')`,
    `  ledger state   ${persistTo}`,
    "",
    "Guided tour with the official MCP SDK client (create, poll, result, list, refusal, revocation):",
    `  ${walkthroughCommand(base, adminToken)}`,
    "",
    "Or by hand with curl, in another bash or zsh shell, one line at a time:",
  ];
  for (const [comment, command] of curlTour({ base, adminToken })) {
    if (comment) lines.push(`  # ${comment}`);
    lines.push(`  ${command}`);
  }
  lines.push(
    "",
    `DPoP-bound tokens: add "jkt":"<your key's RFC 7638 thumbprint>" to the /dev/token body (or "dpop":true with a DPoP proof header); then send`,
    "  Authorization: DPoP <token> and a fresh DPoP proof by that key with every request; its handles open only with that key (README, DPoP).",
    "",
    `Audit trail: curl -s -H 'authorization: Bearer ${adminToken}' ${base}/admin/tenants/${DEV_IDENTITY.tenant}/audit`,
    "Ctrl-C stops all three processes.",
    "",
  );
  return lines.join("\n");
}

// ---- processes ----

function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`${name} must be a TCP port, got ${JSON.stringify(raw)}`);
  return port;
}

/** The file `wrangler dev --env dev` reads its secrets from: .dev.vars.<env> wins over .dev.vars. */
function devVarsFile() {
  if (process.env.TASKWARD_DEV_VARS) return { path: resolve(process.env.TASKWARD_DEV_VARS), explicit: true };
  const envSpecific = join(ROOT, ".dev.vars.dev");
  return { path: existsSync(envSpecific) ? envSpecific : join(ROOT, ".dev.vars"), explicit: false };
}

/** Relative inside the project, absolute outside it. */
function displayPath(path) {
  const inside = relative(ROOT, path);
  return inside && !inside.startsWith("..") && !isAbsolute(inside) ? inside : path;
}

function warnIfTracked(path) {
  const check = spawnSync("git", ["check-ignore", "-q", path], { cwd: ROOT, stdio: "ignore" });
  if (check.status === 1) console.warn(`warning: ${displayPath(path)} holds a private signing key but is not gitignored; add \`.dev.vars*\` to .gitignore.`);
}

/** Prefixes each line of a child's output, so the two logs stay readable side by side. */
function relay(stream, prefix, sink) {
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => sink.write(`${prefix} ${line}\n`));
}

function launch(name, args, env) {
  // Own process group, so a stop reaches wrangler's workerd and tsx's node too.
  const group = spawnGroup(process.execPath, args, { cwd: ROOT, env, label: name, stopGraceMs: STOP_GRACE_MS });
  relay(group.child.stdout, `[${name}]`, process.stdout);
  relay(group.child.stderr, `[${name}]`, process.stderr);
  return group;
}

/** Polls `url` until `accept` says yes. No deadline: after a failed build wrangler waits for a fix. */
async function waitUntilReady(url, accept, children) {
  const startedAt = Date.now();
  let nagged = false;
  for (;;) {
    const dead = children.find((child) => !child.running());
    if (dead) throw new Error(`${dead.label} exited while starting (${dead.child.exitCode ?? dead.child.signalCode})`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      if (accept(response, body)) return body;
    } catch {
      // Not listening yet.
    }
    if (!nagged && Date.now() - startedAt > SLOW_START_MS) {
      nagged = true;
      console.warn(`still waiting for ${url}; see the log above (a build error? wrangler reloads when you save a fix)`);
    }
    await sleep(300);
  }
}

async function main() {
  const taskwardPort = portFromEnv("TASKWARD_PORT", DEFAULT_TASKWARD_PORT);
  const originPort = portFromEnv("DEMO_ORIGIN_PORT", DEFAULT_ORIGIN_PORT);
  const modernOriginPort = portFromEnv("DEMO_MODERN_ORIGIN_PORT", DEFAULT_MODERN_ORIGIN_PORT);
  const base = `http://${HOST}:${taskwardPort}`;
  const originUrl = `http://${HOST}:${originPort}/mcp`;
  const modernOriginUrl = `http://${HOST}:${modernOriginPort}/mcp`;
  for (const [name, port] of [["TASKWARD_PORT", taskwardPort], ["DEMO_ORIGIN_PORT", originPort], ["DEMO_MODERN_ORIGIN_PORT", modernOriginPort]]) {
    if (!(await portIsFree(port))) throw new Error(`port ${port} on ${HOST} is in use (another npm start?); set ${name} to use another port`);
  }

  const devVars = devVarsFile();
  const { kid, adminToken, created } = await ensureDevVars(devVars.path);
  const devVarsPath = displayPath(devVars.path);
  console.log(created ? `Generated signing key ${kid} in ${devVarsPath}.` : `Using signing key ${kid} from ${devVarsPath}.`);
  if (!devVars.explicit) warnIfTracked(devVars.path);

  const wranglerArgs = [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "dev", "--env", "dev", "--ip", HOST, "--port", String(taskwardPort), "--show-interactive-dev-session=false"];
  if (devVars.explicit) wranglerArgs.push("--env-file", devVars.path);
  if (process.env.TASKWARD_PERSIST_TO) wranglerArgs.push("--persist-to", resolve(process.env.TASKWARD_PERSIST_TO));
  // [env.dev] in wrangler.toml names the default ports; other ports need the URLs overridden.
  if (taskwardPort !== DEFAULT_TASKWARD_PORT || originPort !== DEFAULT_ORIGIN_PORT) {
    wranglerArgs.push("--var", `TASKWARD_ISSUER:${base}`, "--var", `ORIGIN_URL:${originUrl}`);
  }
  // Two origins behind one authority; the first (legacy) is also the default at /mcp.
  const origins = [
    { name: "legacy", url: originUrl },
    { name: "modern", url: modernOriginUrl },
  ];
  wranglerArgs.push("--var", `ORIGINS:${JSON.stringify(origins)}`);

  const children = [
    launch("origin", ["--import", "tsx", "demo/main.ts"], { DEMO_ORIGIN_PORT: String(originPort), DEMO_REVISION: "2025-11-25", TASKWARD_ISSUER: base }),
    launch("modern origin", ["--import", "tsx", "demo/main.ts"], { DEMO_ORIGIN_PORT: String(modernOriginPort), DEMO_REVISION: "2026-07-28", TASKWARD_ISSUER: base }),
    launch("taskward", wranglerArgs, {
      WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false",
      CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
    }),
  ];

  let stopping = false;
  async function stop(code, message) {
    if (stopping) return;
    stopping = true;
    if (message) console.error(message);
    await Promise.all(children.map((child) => child.stop()));
    process.exit(code);
  }
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      // A second Ctrl-C does not wait for the grace period.
      if (stopping) for (const child of children) child.kill();
      else void stop(0, `\n${signal}: stopping the demo origins and taskward…`);
    });
  }
  // Last resort (an uncaught error): never leave the children behind.
  process.on("exit", () => children.forEach((child) => child.kill()));
  for (const child of children) {
    child.child.once("exit", (code, signal) => {
      const others = children.filter((other) => other !== child).map((other) => other.label).join(" and ");
      void stop(1, `${child.label} exited unexpectedly (${signal ?? `code ${code}`}); stopping ${others}.`);
    });
  }

  try {
    await waitUntilReady(originUrl, (response) => response.status < 500, children);
    await waitUntilReady(modernOriginUrl, (response) => response.status < 500, children);
    const jwks = await waitUntilReady(`${base}/.well-known/jwks.json`, (response) => response.status === 200, children);
    const served = JSON.parse(jwks).keys?.map((key) => key.kid) ?? [];
    if (!served.includes(kid)) {
      console.warn(`warning: the authority serves keys ${served.join(", ") || "(none)"}, not ${kid} from ${devVarsPath}; handles will not survive a restart.`);
    }
  } catch (error) {
    return stop(1, `taskward did not start: ${error.message}`);
  }
  if (stopping) return;
  console.log(nextSteps({ base, originUrl, modernOriginUrl, adminToken, devVarsPath, kid, persistTo: process.env.TASKWARD_PERSIST_TO ? displayPath(resolve(process.env.TASKWARD_PERSIST_TO)) : ".wrangler/state" }));
}

main().catch((error) => {
  console.error(`npm start: ${error.message}`);
  process.exit(1);
});
