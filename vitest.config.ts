import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** The policy the workerd tests run under (see test/governance). */
const TEST_TASK_POLICY = {
  tools: {
    ping_now: { taskSupport: "forbidden" },
    summarize: { taskSupport: "forbidden" },
    slow_echo: { ownerMayDelegate: true },
    long_job: { maxTtlSeconds: 30, maxAuthAgeSeconds: 300 },
    pop_echo: { requireProofOfPossession: true },
    always_fails: { ops: ["get"], bind: ["tenant", "client"] },
  },
};

/** Origin "beta" (test/gateway/multi-origin.test.ts): slow_echo may not run as a task there, ping_now must. */
const BETA_TASK_POLICY = {
  tools: {
    slow_echo: { taskSupport: "forbidden" },
    summarize: { taskSupport: "forbidden" },
  },
};
/** Tenants whose ledgers the shard tests split over 4 objects (test/ledger/shards.test.ts, test/origins/sharded-cross-origin.test.ts, …); every other tenant keeps one. */
const TEST_SHARDED_TENANTS = ["shard-revoke-tenant", "shard-revoke-client", "shard-revoke-subject", "shard-list", "shard-fault", "shard-legacy", "shard-admin", "shard-dpop", "siem-shards", "shard-origins"];

/** The Worker in workerd with the test bindings; `extra` turns features on for one project. */
function workerdPlugin(extra: Record<string, string> = {}) {
  return cloudflareTest(({ inject }) => ({
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      bindings: {
        DEV_MODE: "true",
        ADMIN_TOKEN: "test-admin-token",
        ORIGIN_URL: inject<string>("originUrl"),
        TASKWARD_ISSUER: "https://taskward.test",
        HANDLE_SIGNING_JWKS: inject<string>("signingJwks"),
        MAX_BODY_BYTES: "65536",
        INTROSPECTION_TOKEN: "test-introspection-token",
        DELIVERY_GRACE_SECONDS: "2",
        RATE_LIMIT_CREATIONS_PER_MINUTE: "40",
        RATE_LIMIT_REFUSALS_PER_MINUTE: "30",
        TASK_POLICY: JSON.stringify(TEST_TASK_POLICY),
        // The default origin is today's ORIGIN_URL under TASK_POLICY; "beta" is a second demo origin with its own policy.
        ORIGINS: JSON.stringify([
          { name: "main", url: inject<string>("originUrl") },
          { name: "beta", url: inject<string>("betaOriginUrl"), policy: BETA_TASK_POLICY },
        ]),
        // Compatibility mode on: the suite's origin log identifies forwarded follow-ups by their handle.
        FORWARD_TASK_HANDLE_HEADER: "true",
        LEDGER_SHARDS_BY_TENANT: JSON.stringify(Object.fromEntries(TEST_SHARDED_TENANTS.map((tenant) => [tenant, 4]))),
        ...extra,
      },
    },
  }));
}

/** Tests that need the SIEM push on (miniflare's real Queue and R2): their own workerd project. */
const SIEM_QUEUE_TESTS = "test/siem/**/*.queue.test.ts";

// Three projects: `workers` runs the Worker and its Durable Object inside workerd against a real
// demo origin started by the global setup; `siem-queue` does the same with SIEM_QUEUE on; `node`
// drives real processes (wrangler dev, the demo origin, the official SDK client) from Node.
export default defineConfig({
  test: {
    // CI reads the pass/fail counts from this file (.ci/run prints them as its last line).
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".ci/results.json" }]] : ["default"],
    projects: [
      {
        plugins: [workerdPlugin()],
        test: {
          name: "workers",
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**", "test/node/**", SIEM_QUEUE_TESTS],
          globalSetup: ["test/setup/origin.global.ts", "test/setup/fault-origin.global.ts"],
        },
      },
      {
        plugins: [workerdPlugin({ SIEM_QUEUE: "true" })],
        test: {
          name: "siem-queue",
          include: [SIEM_QUEUE_TESTS],
          globalSetup: ["test/setup/origin.global.ts"],
        },
      },
      {
        test: {
          name: "node",
          include: ["test/e2e/**/*.test.ts", "test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ["test/setup/build.global.ts"],
        },
      },
    ],
  },
});
