import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Builds dist/ (npm run build) before the node tests: they run the CLI as `node bin/taskward.mjs`,
 * which loads dist/, and a dist/ older than src/ would test old code.
 */
export default function setup(): void {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs")], { cwd: ROOT, stdio: "inherit" });
}
