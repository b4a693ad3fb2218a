/**
 * The official MCP conformance suite (0.2.0-alpha.12) run directly against the demo origin, and
 * through taskward (`wrangler dev`) at each of its origin paths: /mcp (the default origin, the
 * same demo origin) and /mcp/second (a second demo origin, ORIGINS). taskward must be invisible
 * to a conformant client: every check that fails through taskward must also fail directly —
 * zero new failures — for the tasks-* scenarios and the 2026-07-28 and 2025-11-25 requirement sets.
 *
 * The harness cannot send an Authorization header (conformance#453), so the run through taskward
 * goes through a test-only loopback hop (`startHeaderShim`) that adds a dev bearer token to
 * every request; production is unchanged (no token-in-URL or auth bypass exists in taskward).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { generateSigningJwks } from "../../src/handle/keyring.js";
import {
  checksOf,
  compareChecks,
  describeChecks,
  isPassing,
  runConformance,
  runScenarios,
  startHeaderShim,
  summarize,
  TASKS_SCENARIOS,
  type CheckResult,
} from "../node/conformance-runner.js";
import { devToken } from "./support/mcp.js";
import { freePort, startAuthority, writeSecretsFile, type Authority } from "./support/processes.js";

let tmp: string;
let origin: DemoOrigin;
let secondOrigin: DemoOrigin;
let authority: Authority | undefined;
/** One header shim per origin path of the authority. */
const shims: Array<{ path: string; url: string; close(): Promise<void> }> = [];
const report: Record<string, unknown> = {};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-conformance-"));
  const signingJwks = await generateSigningJwks("EdDSA");
  const kid = JSON.parse(signingJwks).active as string;
  const secretsFile = join(tmp, "secrets.env");
  writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: signingJwks, ADMIN_TOKEN: randomBytes(16).toString("hex") });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // One origin for both runs: it verifies every origin assertion taskward sends, but (for the
  // direct run, which has none) does not require one.
  const originOptions = { port: 0, conformanceFixtures: true, assertionVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`), required: false } };
  origin = await startDemoOrigin(originOptions);
  secondOrigin = await startDemoOrigin(originOptions);
  const origins = [{ name: "first", url: origin.url }, { name: "second", url: secondOrigin.url }];
  authority = await startAuthority({ port, originUrl: origin.url, persistTo: join(tmp, "state"), secretsFile, kid, vars: { ORIGINS: JSON.stringify(origins) } });
  const token = await devToken(base, { tenant: "conformance", client_id: "conformance-harness", sub: "harness" });
  for (const path of ["/mcp", "/mcp/second"]) shims.push({ path, ...(await startHeaderShim(`${base}${path}`, { authorization: `Bearer ${token}` })) });
});

afterAll(async () => {
  await Promise.all(shims.map((shim) => shim.close()));
  await authority?.stop();
  await origin?.close();
  await secondOrigin?.close();
  if (report.runs) writeFileSync(join(process.cwd(), ".ci", "conformance-report.json"), JSON.stringify(report, null, 2));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function failing(checks: CheckResult[]): Set<string> {
  return new Set(checks.filter((c) => !isPassing(c.status)).map((c) => `${c.scenario} › ${c.id}`));
}

/** The checks run directly once, and through each origin path of the authority. */
async function directAndThrough(run: (url: string) => Promise<CheckResult[]>): Promise<{ direct: CheckResult[]; through: Array<{ path: string; checks: CheckResult[] }> }> {
  const direct = await run(origin.url);
  const through = [];
  for (const shim of shims) through.push({ path: shim.path, checks: await run(shim.url) });
  return { direct, through };
}

function expectNoNewFailures(label: string, direct: CheckResult[], through: CheckResult[]): void {
  const directFailing = failing(direct);
  const newFailures = through.filter((c) => !isPassing(c.status) && !directFailing.has(`${c.scenario} › ${c.id}`));
  (report.runs as Record<string, unknown>)[label] = {
    direct: { checks: direct.length, passing: direct.filter((c) => isPassing(c.status)).length, summary: summarize(direct) },
    through: { checks: through.length, passing: through.filter((c) => isPassing(c.status)).length, summary: summarize(through) },
    differences: compareChecks(direct, through),
  };
  console.log(`[conformance] ${label}: direct ${direct.filter((c) => isPassing(c.status)).length}/${direct.length} passing, through taskward ${through.filter((c) => isPassing(c.status)).length}/${through.length}`);
  expect(through.length, `${label}: the run through taskward produced no checks`).toBeGreaterThan(0);
  expect(newFailures, `${label}: checks failing only through taskward:\n${describeChecks(newFailures)}`).toEqual([]);
  // Same checks ran both ways: taskward did not make scenarios stop early.
  expect(through.length, `${label}: ${describeChecks(through)}`).toBe(direct.length);
}

describe("conformance through taskward: zero new failures", () => {
  report.runs = {};

  it("tasks-* scenarios (2026-07-28 tasks extension)", async () => {
    const { direct, through } = await directAndThrough(async (url) => checksOf(await runScenarios(url, TASKS_SCENARIOS, { concurrency: 3 })));
    for (const run of through) expectNoNewFailures(`tasks-* via ${run.path}`, direct, run.checks);
    // Through taskward the harness polled by handle: each origin got verified assertions naming the handle's jti.
    for (const demo of [origin, secondOrigin]) expect(demo.received.some((m) => m.method === "tasks/get" && m.assertion !== undefined && "handleJti" in m.assertion)).toBe(true);
  });

  it("2026-07-28 requirement set", async () => {
    const { direct, through } = await directAndThrough(async (url) => (await runConformance(url, { requirements: "2026-07-28", killAfterMs: 120_000 })).checks);
    for (const run of through) expectNoNewFailures(`requirements 2026-07-28 via ${run.path}`, direct, run.checks);
  });

  it("2025-11-25 requirement set (tools, resources, prompts, SSE, sessions)", async () => {
    const { direct, through } = await directAndThrough(async (url) => (await runConformance(url, { requirements: "2025-11-25", killAfterMs: 120_000 })).checks);
    for (const run of through) expectNoNewFailures(`requirements 2025-11-25 via ${run.path}`, direct, run.checks);
  });
});
