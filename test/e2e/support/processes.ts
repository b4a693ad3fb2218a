/** Real processes for the e2e tests: free ports, `wrangler dev` as its own process group, clean stops. */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const HOST = "127.0.0.1";
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;

/** A port that was free a moment ago: bind port 0 on loopback, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

export async function waitForPortFree(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portIsFree(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} still in use after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A child in its own process group, with its output kept (last 64 KiB) for failure messages. */
export interface GroupProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  running(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM the group, SIGKILL it after a grace period, then sweep whatever is left of it. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnGroup(command: string, args: string[], env: Record<string, string> = {}): GroupProcess {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  const pid = child.pid;
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-65_536);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone.
    }
  };
  return {
    child,
    pid,
    output: () => output,
    running,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (running()) signalGroup(signal);
      const timer = setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS);
      const result = await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL");
      return result;
    },
  };
}

/** Polls `url` until `accept` says yes; fails early, with its output, if `owner` dies. */
export async function waitUntil(url: string, accept: (response: Response, body: string) => boolean, owner?: GroupProcess, timeoutMs = READY_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner && !owner.running()) throw new Error(`process exited before ${url} was ready:\n${owner.output()}`);
    // wrangler dev stays up after a failed build, waiting for a fix: fail now, not at the timeout.
    if (owner?.output().includes("Build failed")) throw new Error(`the Worker did not build:\n${owner.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      if (accept(response, body)) return body;
    } catch {
      // Not listening yet.
    }
    await sleep(250);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms${owner ? `:\n${owner.output()}` : ""}`);
}

export interface AuthorityOptions {
  port: number;
  originUrl: string;
  persistTo: string;
  /** Dotenv file with HANDLE_SIGNING_JWKS and ADMIN_TOKEN. */
  secretsFile: string;
  /** The kid the authority must serve before it counts as ready. */
  kid: string;
}

export interface Authority extends GroupProcess {
  url: string;
}

/**
 * `wrangler dev --env dev` on loopback. Secrets come from --env-file, which also keeps wrangler
 * from reading a developer's .dev.vars; the URLs that depend on the ports come from --var.
 */
export async function startAuthority(options: AuthorityOptions): Promise<Authority> {
  const url = `http://${HOST}:${options.port}`;
  const wrangler = spawnGroup(
    process.execPath,
    [
      WRANGLER, "dev", "--env", "dev",
      "--ip", HOST, "--port", String(options.port),
      "--persist-to", options.persistTo,
      "--env-file", options.secretsFile,
      "--var", `TASKWARD_ISSUER:${url}`,
      "--var", `ORIGIN_URL:${options.originUrl}`,
      "--show-interactive-dev-session=false",
    ],
    { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  );
  try {
    await waitUntil(`${url}/.well-known/jwks.json`, (response, body) => response.status === 200 && body.includes(`"${options.kid}"`), wrangler);
  } catch (error) {
    await wrangler.stop();
    throw error;
  }
  return { ...wrangler, url };
}

/** Writes a dotenv file wrangler reads verbatim: single quotes, and the values hold none. */
export function writeSecretsFile(path: string, values: Record<string, string>): void {
  const lines = Object.entries(values).map(([name, value]) => {
    if (/['\n$]/.test(value)) throw new Error(`${name} cannot be written to a dotenv file verbatim`);
    return `${name}='${value}'`;
  });
  writeFileSync(path, `${lines.join("\n")}\n`, { mode: 0o600 });
}
