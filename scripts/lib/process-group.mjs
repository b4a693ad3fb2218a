/**
 * Child processes for the scripts, the benchmark and the e2e tests: each runs in its own process
 * group and is stopped through that group's id (never by name), and readiness is awaited by
 * polling a URL on loopback. Types: process-group.d.mts.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { dotenvLine } from "../dev-keys.mjs";

export const HOST = "127.0.0.1";
const STOP_GRACE_MS = 10_000;
const GROUP_EXIT_WAIT_MS = 5_000;

/** A port that was free a moment ago: bind port 0 on loopback, read it, release it. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

export async function waitForPortFree(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await portIsFree(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} still in use after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

/** Starts `command` as the leader of a new process group, keeping the last 64 KiB of its output. */
export function spawnGroup(command, args, { cwd, env = {}, label = command, stopGraceMs = STOP_GRACE_MS } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not spawn ${label}`);
  const pid = child.pid;
  let output = "";
  const keep = (chunk) => (output = (output + chunk.toString("utf8")).slice(-65_536));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid,
    label,
    output: () => output,
    running,
    exited,
    /** Signals the group (SIGTERM by default), SIGKILLs it after a grace period, and waits until the whole group is gone. */
    async stop(signal = "SIGTERM") {
      if (running()) signalGroup(pid, signal);
      const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), stopGraceMs);
      const result = await exited;
      clearTimeout(timer);
      signalGroup(pid, "SIGKILL"); // whatever the leader left behind in its group
      for (let waited = 0; signalGroup(pid, 0) && waited < GROUP_EXIT_WAIT_MS; waited += 50) await sleep(50);
      return result;
    },
    /** Last resort on process exit: no waiting possible. */
    kill() {
      signalGroup(pid, "SIGKILL");
    },
  };
}

/** Polls `url` until `accept` says yes; fails early, with its output, if `owner` dies or its Worker fails to build. */
export async function waitUntil(url, accept, owner, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner && !owner.running()) throw new Error(`${owner.label} exited before ${url} was ready:\n${owner.output()}`);
    // wrangler dev stays up after a failed build, waiting for a fix: fail now, not at the timeout.
    if (owner?.output().includes("Build failed")) throw new Error(`the Worker did not build:\n${owner.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      if (accept(response, body)) return body;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms${owner ? `:\n${owner.output()}` : ""}`);
}

/** A dotenv file wrangler reads verbatim (single-quoted values), mode 0600. */
export function writeSecretsFile(path, values) {
  writeFileSync(path, `${Object.entries(values).map(([name, value]) => dotenvLine(name, value)).join("\n")}\n`, { mode: 0o600 });
}
