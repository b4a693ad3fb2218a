/**
 * The bench's processes: the fake origin and `wrangler dev` serving bench/worker/index.ts on
 * loopback, with a fresh signing key and admin token in a temp --env-file and ledger state in a
 * temp --persist-to directory (both removed at stop).
 *
 * The Worker is bundled once up front (`wrangler deploy --dry-run --outdir`) and served with
 * `--no-bundle` from a config in the temp dir: `wrangler dev` would otherwise rebuild and reload
 * the Worker mid-measurement whenever someone edits src/ in a shared checkout.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigningJwks } from "./keys.mjs";
import { existsSync } from "node:fs";
import { HOST, commandLine, firstJsonLine, freePort, groupMembers, spawnGroup, waitUntil, writeSecretsFile } from "./processes.mjs";

/**
 * Ledger state goes to tmpfs (/dev/shm) when there is one: on this class of dev VM every SQLite
 * commit otherwise waits for a virtio-disk fsync (several ms), which says nothing about Durable
 * Object storage in production (durability there is replication). BENCH_STATE_DIR overrides.
 */
export function defaultStateDir() {
  return process.env.BENCH_STATE_DIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
}

const QUIET_WRANGLER = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/** Bundles the bench Worker into `dir`/build and writes a config that serves that bundle as is. */
function buildWorker(root, dir) {
  const source = join(root, "bench/wrangler.bench.toml");
  const build = join(dir, "build");
  const result = spawnSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", build, "--config", source], {
    cwd: root,
    env: { ...process.env, ...QUIET_WRANGLER },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`bundling the bench Worker failed:\n${result.stdout}\n${result.stderr}`);
  const toml = readFileSync(source, "utf8").replace(/^main = .*$/m, `main = ${JSON.stringify(join(build, "index.js"))}`);
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, toml);
  return config;
}

/** `buildRoot`: the tree whose bench Worker and src/ are served (default `root`; another commit's tree to measure it side by side). */
export async function startStack(root, { listSize = 100, stateDir = defaultStateDir(), buildRoot = root } = {}) {
  const dir = mkdtempSync(join(stateDir, "taskward-bench-"));
  const origin = spawnGroup(process.execPath, [join(root, "bench/lib/fake-origin.mjs")], { cwd: root, env: { LIST_SIZE: String(listSize) } });
  const stops = [() => origin.stop()];
  try {
    const { port: originPort } = await firstJsonLine(origin);
    const originUrl = `http://${HOST}:${originPort}/mcp`;
    const { jwks, kid } = await generateSigningJwks();
    const adminToken = `bench-admin-${crypto.randomUUID()}`;
    const secretsFile = join(dir, "secrets.env");
    writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: jwks, ADMIN_TOKEN: adminToken });
    const config = buildWorker(buildRoot, dir);
    const port = await freePort();
    const inspectorPort = await freePort();
    const base = `http://${HOST}:${port}`;
    const wrangler = spawnGroup(
      process.execPath,
      [
        join(root, "node_modules/wrangler/bin/wrangler.js"), "dev",
        "--config", config,
        "--no-bundle",
        "--ip", HOST, "--port", String(port),
        "--inspector-ip", HOST, "--inspector-port", String(inspectorPort),
        "--persist-to", join(dir, "state"),
        "--env-file", secretsFile,
        "--var", `TASKWARD_ISSUER:${base}`,
        "--var", `ORIGIN_URL:${originUrl}`,
        "--show-interactive-dev-session=false",
        "--log-level", "warn",
      ],
      { cwd: root, env: QUIET_WRANGLER },
    );
    stops.unshift(() => wrangler.stop());
    await waitUntil(`${base}/.well-known/jwks.json`, (response, body) => response.status === 200 && body.includes(`"${kid}"`), wrangler);
    return {
      base,
      originUrl,
      adminToken,
      inspectorPort,
      wranglerPid: wrangler.pid,
      stateDir,
      workerdPids: () => groupMembers(wrangler.pid, "workerd"),
      /** The runtime that runs the bench Worker and its Durable Objects (the one with an inspector), and wrangler's proxy runtime in front of it. */
      workerdRoles: () => {
        const pids = groupMembers(wrangler.pid, "workerd");
        const user = pids.filter((pid) => commandLine(pid).includes("--inspector-addr"));
        return { user, proxy: pids.filter((pid) => !user.includes(pid)) };
      },
      wranglerOutput: () => wrangler.output(),
      async stop() {
        for (const stop of stops) await stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const stop of stops) await stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
