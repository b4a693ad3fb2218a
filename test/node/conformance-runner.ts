/**
 * Runs the MCP conformance suite's server scenarios (`@modelcontextprotocol/conformance`, CLI
 * `server` command) against a URL and collects every check as `{ scenario, id, status }` from the
 * `checks.json` files it writes. Shared by the direct run against the demo origin and runs of the
 * same scenarios through taskward, so the two can be compared check by check.
 *
 * Pitfalls (docs/research/mcp-tasks-protocol-notes.md §C.2):
 * - never pass `specVersion` with a `tasks-*` scenario: extension scenarios are then skipped
 *   ("not applicable") and produce no checks; without it they run on the 2026-07-28 wire;
 * - scenarios without `specVersion` run at their introduction revision: 2025-11-25 (initialize,
 *   sessions) for the classic tools/resources/prompts ones, 2026-07-28 for the newer ones;
 * - the harness cannot send custom headers (no Authorization): a server needing credentials
 *   must take them some other way (e.g. in the URL).
 */
import { spawn } from "node:child_process";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type CheckStatus = "SUCCESS" | "FAILURE" | "WARNING" | "SKIPPED" | "INFO";

export interface CheckResult {
  scenario: string;
  id: string;
  status: CheckStatus;
  name?: string;
  errorMessage?: string;
}

export interface CliRun {
  /** What was run: the scenario, or the suite / requirement set. */
  label: string;
  args: string[];
  exitCode: number | null;
  /** True when the run was killed for exceeding `killAfterMs`. */
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  checks: CheckResult[];
}

export interface RunOptions {
  /** One scenario (`--scenario`). */
  scenario?: string;
  /** A suite (`--suite`): active, all, draft, pending. */
  suite?: string;
  /** A frozen requirement set (`--requirements`): 2025-11-25 or 2026-07-28. */
  requirements?: string;
  /** `--spec-version`; leave unset for `tasks-*` scenarios. */
  specVersion?: string;
  /** The CLI's per-scenario timeout (`--timeout`, ms). */
  scenarioTimeoutMs?: number;
  /** Kill the CLI after this long (default 90 s). */
  killAfterMs?: number;
}

export const CONFORMANCE_VERSION = "0.2.0-alpha.12";
export const CONFORMANCE_CLI = join(dirname(fileURLToPath(import.meta.url)), "../../node_modules/@modelcontextprotocol/conformance/dist/index.js");

/** The tasks-extension scenarios (all in the "pending" suite; each runs on the 2026-07-28 wire). */
export const TASKS_SCENARIOS = [
  "tasks-lifecycle",
  "tasks-capability-negotiation",
  "tasks-wire-fields",
  "tasks-request-state-removal",
  "tasks-mrtr-input",
  "tasks-request-headers",
  "tasks-dispatch-and-envelope",
  "tasks-status-notifications",
  "tasks-required-task-error",
  "tasks-mrtr-composition",
] as const;

/**
 * Checks that are not passes by design: `tasks-status-notifications` always reports one SKIPPED
 * check (the harness has no subscriptions/listen client yet). Keyed `scenario:id`.
 */
export const KNOWN_NON_PASSING: ReadonlySet<string> = new Set(["tasks-status-notifications:tasks-status-notifications"]);

/**
 * Known non-passes: the ones above, and SKIPPED checks of the skills extension scenarios
 * (`sep-2640-*`, in the pending suite), which the demo does not offer.
 */
export function isKnownNonPassing(check: CheckResult): boolean {
  return KNOWN_NON_PASSING.has(`${check.scenario}:${check.id}`) || (check.status === "SKIPPED" && check.scenario.startsWith("sep-2640-"));
}

/** SUCCESS, INFO and WARNING do not fail a conformance run. */
export function isPassing(status: CheckStatus): boolean {
  return status === "SUCCESS" || status === "INFO" || status === "WARNING";
}

/** Checks that neither pass nor are known exceptions. */
export function unexpectedChecks(checks: CheckResult[], known: (check: CheckResult) => boolean = isKnownNonPassing): CheckResult[] {
  return checks.filter((check) => !isPassing(check.status) && !known(check));
}

/** Per scenario, how many checks ended in each status. */
export function summarize(checks: CheckResult[]): Record<string, Partial<Record<CheckStatus, number>>> {
  const summary: Record<string, Partial<Record<CheckStatus, number>>> = {};
  for (const { scenario, status } of checks) {
    const counts = (summary[scenario] ??= {});
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return summary;
}

/**
 * Where two runs of the same scenarios disagree (e.g. the origin directly vs through taskward),
 * check by check. A check id may occur several times in a scenario; occurrences pair up in order.
 */
export function compareChecks(baseline: CheckResult[], other: CheckResult[]): Array<{ scenario: string; id: string; baseline?: CheckStatus; other?: CheckStatus }> {
  const keyed = (checks: CheckResult[]): Map<string, CheckResult> => {
    const seen = new Map<string, number>();
    const map = new Map<string, CheckResult>();
    for (const check of checks) {
      const base = `${check.scenario}\u0000${check.id}`;
      const occurrence = seen.get(base) ?? 0;
      seen.set(base, occurrence + 1);
      map.set(`${base}\u0000${occurrence}`, check);
    }
    return map;
  };
  const left = keyed(baseline);
  const right = keyed(other);
  const differences: Array<{ scenario: string; id: string; baseline?: CheckStatus; other?: CheckStatus }> = [];
  for (const key of new Set([...left.keys(), ...right.keys()])) {
    const a = left.get(key);
    const b = right.get(key);
    if (a?.status === b?.status) continue;
    const [scenario, id] = key.split("\u0000") as [string, string];
    differences.push({ scenario, id, ...(a ? { baseline: a.status } : {}), ...(b ? { other: b.status } : {}) });
  }
  return differences;
}

/** `<dir>/server-<scenario>-<ISO timestamp with : and . as ->/checks.json`. */
const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

async function collectChecks(outputDir: string): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  const entries = (await readdir(outputDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  for (const name of entries) {
    const scenario = RESULT_DIR.exec(name)?.[1];
    if (!scenario) continue;
    const raw = JSON.parse(await readFile(join(outputDir, name, "checks.json"), "utf8")) as Array<Record<string, unknown>>;
    for (const check of raw) {
      checks.push({
        scenario,
        id: String(check.id),
        status: check.status as CheckStatus,
        ...(typeof check.name === "string" ? { name: check.name } : {}),
        ...(typeof check.errorMessage === "string" ? { errorMessage: check.errorMessage } : {}),
      });
    }
  }
  return checks;
}

/** Runs the conformance CLI once (`server --url …`) and returns its checks. */
export async function runConformance(url: string, options: RunOptions): Promise<CliRun> {
  const outputDir = await mkdtemp(join(tmpdir(), "mcp-conformance-"));
  const args = [CONFORMANCE_CLI, "server", "--url", url, "-o", outputDir];
  if (options.scenario) args.push("--scenario", options.scenario);
  if (options.suite) args.push("--suite", options.suite);
  if (options.requirements) args.push("--requirements", options.requirements);
  if (options.specVersion) args.push("--spec-version", options.specVersion);
  if (options.scenarioTimeoutMs) args.push("--timeout", String(options.scenarioTimeoutMs));
  const label = options.scenario ?? (options.requirements ? `requirements ${options.requirements}` : `suite ${options.suite ?? "active"}`);

  const started = Date.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.killAfterMs ?? 90_000);
  const exitCode = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  clearTimeout(killer);
  try {
    const checks = await collectChecks(outputDir);
    return { label, args: args.slice(1), exitCode, timedOut, durationMs: Date.now() - started, stdout, stderr, checks };
  } finally {
    await rm(outputDir, { recursive: true, force: true });
  }
}

/** Runs each scenario in its own CLI process, `concurrency` at a time (the scenarios mostly wait). */
export async function runScenarios(url: string, scenarios: readonly string[], options: Omit<RunOptions, "scenario" | "suite" | "requirements"> & { concurrency?: number } = {}): Promise<CliRun[]> {
  const runs: CliRun[] = new Array(scenarios.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < scenarios.length) {
      const index = next++;
      runs[index] = await runConformance(url, { ...options, scenario: scenarios[index]! });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 5, scenarios.length) }, worker));
  return runs;
}

export function checksOf(runs: CliRun[]): CheckResult[] {
  return runs.flatMap((run) => run.checks);
}

/** One line per failing check, for assertion messages. */
export function describeChecks(checks: CheckResult[]): string {
  return checks.map((check) => `${check.scenario} › ${check.id}: ${check.status}${check.errorMessage ? ` — ${check.errorMessage}` : ""}`).join("\n");
}

/**
 * A loopback pass-through that adds `headers` (e.g. `authorization: Bearer …`) to every request
 * and streams responses back untouched — the conformance harness cannot send custom headers
 * (conformance#453), so a server that needs credentials is tested through this. Everything else,
 * Host and Origin included, passes as the harness sent it (so `dns-rebinding-protection` still
 * tests the server). `url` keeps the target's path.
 */
export async function startHeaderShim(target: string, headers: Record<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, ...headers } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    res.on("close", () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
