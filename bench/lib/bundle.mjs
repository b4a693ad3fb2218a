/**
 * The deployable bundle (`wrangler deploy --dry-run`, the repo's own wrangler.toml) and its cold
 * start: gzip -9 size, the largest contributors by package, and the time a fresh V8 isolate takes
 * to compile and evaluate it (each sample a fresh Node process, the one import of
 * `cloudflare:workers` replaced by a stub class; an empty module imported the same way is the
 * baseline). A second tree (another commit's sources) can be measured side by side, interleaved.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { median, percentile, round } from "./stats.mjs";

const QUIET_WRANGLER = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/** `gzip -9` as the command line does it (zlib's level 9 differs by a few hundred bytes); zlib when there is no gzip. */
function gzip9Bytes(code) {
  const cli = spawnSync("gzip", ["-9c"], { input: code, maxBuffer: 64 * 1024 * 1024 });
  return cli.status === 0 ? cli.stdout.length : gzipSync(code, { level: 9 }).length;
}

/** Bundles the Worker of the tree at `root` exactly as `wrangler deploy` would, into `outdir`. */
export function bundleWorker(root, wranglerRoot, outdir) {
  const result = spawnSync(process.execPath, [join(wranglerRoot, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir, "--metafile", join(outdir, "meta.json")], {
    cwd: root,
    env: { ...process.env, ...QUIET_WRANGLER },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`wrangler deploy --dry-run in ${root} failed:\n${result.stdout}\n${result.stderr}`);
  const code = readFileSync(join(outdir, "index.js"));
  const meta = JSON.parse(readFileSync(join(outdir, "meta.json"), "utf8"));
  const output = Object.values(meta.outputs).find((o) => o.inputs && Object.keys(o.inputs).length > 0);
  const byPackage = {};
  for (const [path, input] of Object.entries(output.inputs)) {
    const parts = path.includes("node_modules/") ? path.split("node_modules/").pop().split("/") : null;
    const key = parts ? (parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]) : `src/${path.split("src/").pop().split("/")[0]}`;
    byPackage[key] = (byPackage[key] ?? 0) + input.bytesInOutput;
  }
  const largest = Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1]).slice(0, 8));
  const startable = join(outdir, "startable.mjs");
  // The import is `import { DurableObject } from …`, or `import{DurableObject as x}from…` when minified.
  const stubbed = code
    .toString("utf8")
    .replace(/import\s*\{\s*DurableObject(?:\s+as\s+([\w$]+))?\s*\}\s*from\s*"cloudflare:workers";?/, (_match, alias) => `class ${alias ?? "DurableObject"} { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }`);
  writeFileSync(startable, stubbed);
  return { bytes: code.length, gzipBytes: gzip9Bytes(code), largestBytesByPackage: largest, startable };
}

/** ms from before the dynamic import to after the module evaluated, in a fresh process. */
function startupSample(file) {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`importing ${file} failed: ${result.stderr.slice(-1000)}`);
  return Number(result.stdout);
}

/**
 * Bundles `trees` ({ name: { root, wranglerRoot } }) and times their isolate start, `samples`
 * fresh processes each, interleaved (empty, A, B, empty, A, B…) so drift hits all alike.
 */
export function measureBundles(trees, samples) {
  const dir = mkdtempSync(join(tmpdir(), "taskward-bundle-"));
  try {
    const empty = join(dir, "empty.mjs");
    writeFileSync(empty, "export default {};\n");
    const bundles = {};
    for (const [name, tree] of Object.entries(trees)) bundles[name] = bundleWorker(tree.root, tree.wranglerRoot, join(dir, name));
    const times = { empty: [], ...Object.fromEntries(Object.keys(bundles).map((name) => [name, []])) };
    for (let i = 0; i < samples; i++) {
      times.empty.push(startupSample(empty));
      for (const [name, bundle] of Object.entries(bundles)) times[name].push(startupSample(bundle.startable));
    }
    const summary = (values) => ({ n: values.length, median: round(median(values), 2), p90: round(percentile(values, 90), 2) });
    const out = { emptyModuleStartMs: summary(times.empty) };
    for (const [name, bundle] of Object.entries(bundles)) {
      const { startable: _startable, ...sizes } = bundle;
      out[name] = { ...sizes, gzipKB: round(bundle.gzipBytes / 1000, 1), startMs: summary(times[name]), startMinusEmptyMs: round(median(times[name]) - median(times.empty), 2) };
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sources of `ref` in a temp dir (src/, wrangler.toml, package.json), to bundle beside the working tree; call the returned cleanup. */
export function treeAtRef(root, ref) {
  const dir = mkdtempSync(join(tmpdir(), "taskward-ref-"));
  const archive = spawnSync("git", ["archive", ref, "src", "wrangler.toml", "package.json", "tsconfig.json"], { cwd: root, maxBuffer: 256 * 1024 * 1024 });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr}`);
  const untar = spawnSync("tar", ["-x", "-C", dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  return { tree: { root: dir, wranglerRoot: root }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
