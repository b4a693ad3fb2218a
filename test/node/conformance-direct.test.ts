/**
 * The MCP conformance suite (@modelcontextprotocol/conformance 0.2.0-alpha.12), run directly
 * against the demo origin — no taskward in between — so a later run through taskward has a
 * baseline to compare with (test/node/conformance-runner.ts `compareChecks`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import {
  compareChecks,
  describeChecks,
  runConformance,
  runScenarios,
  startHeaderShim,
  summarize,
  TASKS_SCENARIOS,
  unexpectedChecks,
  type CheckResult,
  type CliRun,
} from "./conformance-runner.js";

/** Every check each tasks-* scenario must report (besides the synthetic wire-schema-valid). */
const TASKS_CHECK_IDS: Record<(typeof TASKS_SCENARIOS)[number], string[]> = {
  "tasks-lifecycle": [
    "tasks-sync-tool-call",
    "sep-2663-result-type-task-on-create",
    "sep-2663-tasks-get-status-working",
    "sep-2663-tasks-get-status-completed",
    "sep-2663-tool-error-uses-completed-status",
    "sep-2663-tasks-get-status-failed",
    "sep-2663-cancel-ack-empty-result",
    "tasks-cancel-terminal-idempotent-ack",
  ],
  "tasks-capability-negotiation": [
    "tasks-extension-advertised",
    "sep-2663-tasks-methods-non-declaring",
    "sep-2663-server-rejects-undeclared-client",
    "tasks-per-request-meta-opt-in",
  ],
  "tasks-wire-fields": ["tasks-wire-field-renames", "tasks-no-early-ttl-expiry", "tasks-no-related-task-meta-on-inlined-result"],
  "tasks-request-state-removal": ["tasks-create-result-no-request-state", "tasks-get-detailed-no-request-state"],
  "tasks-mrtr-input": ["sep-2663-tasks-get-status-input-required", "tasks-mrtr-tasks-update-resumes", "tasks-mrtr-partial-fulfillment"],
  "tasks-request-headers": [
    "tasks-headers-tolerate-mcp-method-on-tools-call",
    "sep-2663-routing-headers-accepted-on-tasks-get",
    "tasks-headers-reject-mismatched-method",
    "sep-2663-server-rejects-mismatched-mcp-name-on-tasks-get",
  ],
  "tasks-dispatch-and-envelope": [
    "sep-2663-tasks-result-removed-method-not-found",
    "tasks-removed-tasks-list",
    "tasks-server-directed-creation-no-hint",
    "sep-2663-legacy-task-param-ignored",
    "tasks-immediate-result-shortcut",
    "tasks-result-type-complete-on-non-task-responses",
    "sep-2663-durable-create-strong-consistency",
    "sep-2663-tasks-get-invalid-task-id-32602",
  ],
  "tasks-status-notifications": ["tasks-status-notifications"],
  "tasks-required-task-error": ["sep-2663-server-returns-missing-capability-when-required", "sep-2663-server-returns-missing-capability-data-shape"],
  "tasks-mrtr-composition": ["sep-2663-mrtr-synchronous-before-task-creation"],
};

function expectClean(run: CliRun): void {
  const context = `${run.label} (${run.durationMs} ms, exit ${run.exitCode})\n${run.stderr.slice(-2000)}`;
  expect(run.timedOut, context).toBe(false);
  expect(run.checks.length, context).toBeGreaterThan(0);
  expect(unexpectedChecks(run.checks), describeChecks(unexpectedChecks(run.checks))).toEqual([]);
  expect(run.exitCode, context).toBe(0);
}

describe("conformance suite against the demo origin directly", () => {
  let origin: DemoOrigin;

  beforeAll(async () => {
    origin = await startDemoOrigin({ port: 0, conformanceFixtures: true });
  });

  afterAll(async () => {
    await origin?.close();
  });

  it("passes every tasks-* check (pending suite; only the harness's own notifications placeholder is SKIPPED)", { timeout: 90_000 }, async () => {
    const run = await runConformance(origin.url, { suite: "pending", killAfterMs: 80_000 });
    expectClean(run);
    const tasksChecks = run.checks.filter((check) => check.scenario.startsWith("tasks-"));
    for (const scenario of TASKS_SCENARIOS) {
      const ids = tasksChecks.filter((check) => check.scenario === scenario).map((check) => check.id);
      expect(ids, scenario).toEqual(expect.arrayContaining(TASKS_CHECK_IDS[scenario]));
    }
    const passing = (check: CheckResult) => check.status === "SUCCESS" || check.status === "INFO" || check.status === "WARNING";
    expect(tasksChecks.filter((check) => !passing(check)).map((check) => `${check.scenario}:${check.id}:${check.status}`)).toEqual([
      "tasks-status-notifications:tasks-status-notifications:SKIPPED",
    ]);
    // Every message the origin sent validated against the 2026-07-28 schema.
    expect(tasksChecks.filter((check) => check.id === "wire-schema-valid").every((check) => check.status === "SUCCESS")).toBe(true);
    console.info(`pending suite: ${run.durationMs} ms ${JSON.stringify(summarize(run.checks))}`);
  });

  it("passes the 2026-07-28 requirement set on the stateless wire", { timeout: 90_000 }, async () => {
    const run = await runConformance(origin.url, { requirements: "2026-07-28", killAfterMs: 80_000 });
    expectClean(run);
    const scenarios = new Set(run.checks.map((check) => check.scenario));
    for (const scenario of ["server-stateless", "tools-list", "tools-call-with-progress", "resources-templates-read", "prompts-get-with-args", "caching", "input-required-result-multi-round"]) {
      expect(scenarios.has(scenario), scenario).toBe(true);
    }
    console.info(`requirements 2026-07-28: ${run.durationMs} ms ${JSON.stringify(summarize(run.checks))}`);
  });

  it("gives the same checks through a header-adding pass-through (the harness's way to reach a server needing credentials)", { timeout: 60_000 }, async () => {
    const shim = await startHeaderShim(origin.url, { authorization: "Bearer ignored-by-the-demo" });
    try {
      const scenarios = ["tasks-request-headers", "dns-rebinding-protection"];
      const [direct, shimmed] = await Promise.all([runScenarios(origin.url, scenarios), runScenarios(shim.url, scenarios)]);
      for (const run of [...direct, ...shimmed]) expectClean(run);
      expect(compareChecks(direct.flatMap((run) => run.checks), shimmed.flatMap((run) => run.checks))).toEqual([]);
    } finally {
      await shim.close();
    }
  });

  it("passes the 2025-11-25 requirement set on the SDK path (sessions)", { timeout: 60_000 }, async () => {
    const run = await runConformance(origin.url, { requirements: "2025-11-25", killAfterMs: 50_000 });
    expectClean(run);
    const scenarios = new Set(run.checks.map((check) => check.scenario));
    for (const scenario of ["server-initialize", "tools-call-sampling", "resources-subscribe", "prompts-get-with-image", "server-sse-polling"]) {
      expect(scenarios.has(scenario), scenario).toBe(true);
    }
    console.info(`requirements 2025-11-25: ${run.durationMs} ms ${JSON.stringify(summarize(run.checks))}`);
  });
});
