#!/usr/bin/env node
/**
 * Long fuzzing (docs/testing.md): runs test/adversarial/fuzz.test.ts with more runs than CI.
 *
 *   npm run fuzz -- [--runs N] [--minutes M]
 *
 * --runs replaces every property's run count (FUZZ_RUNS); --minutes bounds the whole run: each of
 * the file's five properties may use a fifth of it (FUZZ_MINUTES) and stops early, reporting the
 * runs it executed. Without options: 100000 runs, 20 minutes.
 */
import { spawnGroup } from "./lib/process-group.mjs";

const PROPERTIES = 5;
const options = { runs: 100_000, minutes: 20 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const value = Number(argv[i + 1]);
  if (argv[i] === "--runs" && Number.isInteger(value) && value > 0) options.runs = value;
  else if (argv[i] === "--minutes" && value > 0) options.minutes = value;
  else throw new Error(`usage: npm run fuzz -- [--runs N] [--minutes M] (got ${argv[i]} ${argv[i + 1] ?? ""})`);
  i++;
}

const perProperty = options.minutes / PROPERTIES;
console.log(`[fuzz] ${options.runs} runs per property, at most ${perProperty.toFixed(2)} min each (${options.minutes} min in all)`);
const run = spawnGroup("npx", ["vitest", "run", "--project", "workers", "test/adversarial/fuzz.test.ts"], {
  env: { FUZZ_RUNS: String(options.runs), FUZZ_MINUTES: String(perProperty), WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  label: "vitest",
});
run.child.stdout.pipe(process.stdout);
run.child.stderr.pipe(process.stderr);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void run.stop().then(() => process.exit(130)));
const { code } = await run.exited;
await run.stop();
process.exit(code ?? 1);
