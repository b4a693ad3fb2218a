/**
 * Runs the demo origin: `npx tsx demo/main.ts`.
 *
 * DEMO_ORIGIN_PORT (8788), TASKWARD_ISSUER (http://127.0.0.1:8787),
 * TASKWARD_JWKS_URL (${TASKWARD_ISSUER}/.well-known/jwks.json), DEMO_VERIFY_ASSERTIONS ("false"
 * turns off the per-call origin assertion check, on by default), DEMO_VERIFY_HANDLES ("true" also
 * verifies the Taskward-Task-Handle header of taskward's compatibility mode), DEMO_REQUIRE_HANDLE
 * ("true" refuses follow-ups without that header), DEMO_CONFORMANCE_FIXTURES ("true" adds the
 * conformance suite's fixtures to the 2025-11-25 path), DEMO_REVISION ("2025-11-25" or "2026-07-28":
 * serve that revision only; default both).
 *
 * One endpoint serves MCP 2025-11-25 (SDK, sessions) and 2026-07-28 (stateless, tasks extension).
 */
import { startDemoOrigin, type DemoOriginOptions } from "./origin.js";

function optionsFromEnv(env: NodeJS.ProcessEnv): DemoOriginOptions {
  const issuer = env.TASKWARD_ISSUER ?? "http://127.0.0.1:8787";
  const options: DemoOriginOptions = {
    port: Number(env.DEMO_ORIGIN_PORT ?? 8788),
    requireHandle: env.DEMO_REQUIRE_HANDLE === "true",
    conformanceFixtures: env.DEMO_CONFORMANCE_FIXTURES === "true",
  };
  if (env.DEMO_REVISION === "2025-11-25" || env.DEMO_REVISION === "2026-07-28") options.revision = env.DEMO_REVISION;
  else if (env.DEMO_REVISION) throw new Error(`DEMO_REVISION must be 2025-11-25 or 2026-07-28, got ${JSON.stringify(env.DEMO_REVISION)}`);
  // jose fetches a URL-form JWKS lazily, so the origin may start before taskward does.
  const jwks = new URL(env.TASKWARD_JWKS_URL ?? `${issuer}/.well-known/jwks.json`);
  if (env.DEMO_VERIFY_ASSERTIONS !== "false") options.assertionVerification = { issuer, jwks };
  if (env.DEMO_VERIFY_HANDLES === "true") options.handleVerification = { issuer, jwks };
  return options;
}

const origin = await startDemoOrigin(optionsFromEnv(process.env));
console.log(`demo origin listening on ${origin.url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    origin.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
