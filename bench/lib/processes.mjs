/**
 * Child processes of the bench, each in its own process group so it is stopped by its group id
 * (never by name): the fake origin and `wrangler dev` with the bench Worker.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const HOST = "127.0.0.1";
const STOP_GRACE_MS = 10_000;

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

export function spawnGroup(command, args, { cwd, env = {} } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  let output = "";
  const keep = (chunk) => (output = (output + chunk.toString("utf8")).slice(-65_536));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  const signalGroup = (signal) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  return {
    child,
    pid,
    output: () => output,
    running,
    exited,
    async stop() {
      if (running()) signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS);
      const result = await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL"); // whatever the leader left behind in its group
      return result;
    },
  };
}

/** Resolves with the first stdout line that parses as JSON (the fake origin's `{"port":N}`). */
export function firstJsonLine(group, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`no JSON line within ${timeoutMs} ms: ${group.output()}`)), timeoutMs);
    group.child.stdout.on("data", (chunk) => {
      buffered += chunk.toString("utf8");
      for (const line of buffered.split("\n")) {
        try {
          const value = JSON.parse(line);
          clearTimeout(timer);
          resolve(value);
          return;
        } catch {
          // not yet
        }
      }
    });
  });
}

export async function waitUntil(url, accept, owner, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner && !owner.running()) throw new Error(`process exited before ${url} was ready:\n${owner.output()}`);
    if (owner?.output().includes("Build failed")) throw new Error(`the bench Worker did not build:\n${owner.output()}`);
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

/** Command line of a process (Linux /proc), or "" when it is gone. */
export function commandLine(pid) {
  try {
    return readFileSync(join("/proc", String(pid), "cmdline"), "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** PIDs of the processes in process group `pgid` whose command name is `name` (Linux /proc). */
export function groupMembers(pgid, name) {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(join("/proc", entry, "stat"), "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && (name === undefined || comm === name)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** A dotenv file wrangler reads verbatim (single-quoted values), mode 0600. */
export function writeSecretsFile(path, values) {
  const lines = Object.entries(values).map(([name, value]) => {
    if (/['\n$]/.test(value)) throw new Error(`${name} cannot be written verbatim`);
    return `${name}='${value}'`;
  });
  writeFileSync(path, `${lines.join("\n")}\n`, { mode: 0o600 });
}
