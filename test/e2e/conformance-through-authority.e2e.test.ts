/**
 * The official MCP conformance suite (0.2.0-alpha.12) run twice in one test: directly against
 * the demo origin, and through taskward (`wrangler dev`) in front of the same origin. taskward
 * must be invisible to a conformant client: every check that fails through taskward must also
 * fail directly — zero new failures — for the tasks-* scenarios and the 2026-07-28 and
 * 2025-11-25 requirement sets.
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
let authority: Authority | undefined;
let shim: { url: string; close(): Promise<void> } | undefined;
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
  origin = await startDemoOrigin({ port: 0, conformanceFixtures: true, assertionVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`), required: false } });
  authority = await startAuthority({ port, originUrl: origin.url, persistTo: join(tmp, "state"), secretsFile, kid });
  const token = await devToken(base, { tenant: "conformance", client_id: "conformance-harness", sub: "harness" });
  shim = await startHeaderShim(`${base}/mcp`, { authorization: `Bearer ${token}` });
});

afterAll(async () => {
  await shim?.close();
  await authority?.stop();
  await origin?.close();
  if (report.runs) writeFileSync(join(process.cwd(), ".ci", "conformance-report.json"), JSON.stringify(report, null, 2));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function failing(checks: CheckResult[]): Set<string> {
  return new Set(checks.filter((c) => !isPassing(c.status)).map((c) => `${c.scenario} › ${c.id}`));
}

async function directAndThrough(run: (url: string) => Promise<CheckResult[]>): Promise<{ direct: CheckResult[]; through: CheckResult[] }> {
  const direct = await run(origin.url);
  const through = await run(shim!.url);
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
    expectNoNewFailures("tasks-*", direct, through);
    // Through taskward the harness polled by handle: the origin got verified assertions naming the handle's jti.
    expect(origin.received.some((m) => m.method === "tasks/get" && m.assertion !== undefined && "handleJti" in m.assertion)).toBe(true);
  });

  it("2026-07-28 requirement set", async () => {
    const { direct, through } = await directAndThrough(async (url) => (await runConformance(url, { requirements: "2026-07-28", killAfterMs: 120_000 })).checks);
    expectNoNewFailures("requirements 2026-07-28", direct, through);
  });

  it("2025-11-25 requirement set (tools, resources, prompts, SSE, sessions)", async () => {
    const { direct, through } = await directAndThrough(async (url) => (await runConformance(url, { requirements: "2025-11-25", killAfterMs: 120_000 })).checks);
    expectNoNewFailures("requirements 2025-11-25", direct, through);
  });
});
