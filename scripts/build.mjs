#!/usr/bin/env node
/**
 * `npm run build` (also run by `npm install` in a checkout and by `npm pack`, through `prepare`):
 *   dist/origin/…  taskward/origin as ESM + .d.ts, compiled by tsc (tsconfig.build.json)
 *   dist/cli/main.js  the operator CLI bundled into one ESM file; jose stays an import (it is the
 *                     package's one dependency), everything else is inlined, so no tsx at run time
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");

// A file deleted from src must not linger in a package built from dist.
rmSync(DIST, { recursive: true, force: true });

const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
if (tsc.status !== 0) {
  console.error("build: tsc failed");
  process.exit(1);
}

await build({
  entryPoints: [join(ROOT, "src/cli/main.ts")],
  outfile: join(DIST, "cli/main.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["jose"],
  logLevel: "warning",
});
