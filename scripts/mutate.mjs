#!/usr/bin/env node
/**
 * Scripted mutation testing over the security core (docs/testing.md).
 *
 * Stryker's vitest runner drives vitest inside Node with its own instrumentation; the workers
 * project runs its tests inside workerd (@cloudflare/vitest-plugin), so this script does the
 * same job by hand: a fixed, reviewable set of operators applied to one source file at a time,
 * each mutant followed by the workerd test files mapped to its module, then the file restored.
 *
 *   npm run mutate -- [--module src/ledger]... [--max N] [--seed S] [--timeout SECONDS] [--list] [--out DIR]
 *                     [--only <id part>]... [--tests <test file or dir>]... [--ids <file of mutant ids>]
 *
 * Reports: <out>/mutation-<module>.md and .json per module, <out>/mutation.md and .json overall
 * (out defaults to reports/, which git ignores). Exit code 0 whatever the score; 2 if a baseline
 * run fails or a file could not be restored.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { spawnGroup } from "./lib/process-group.mjs";

const ROOT = process.cwd();
const RESTORE_FILE = join(ROOT, "reports", ".mutate-restore.json");

/** Module → the workerd test files that exercise it (paths relative to the repo root). */
const TESTS_BY_MODULE = {
  "src/ledger": ["test/ledger", "test/hardening", "test/dpop", "test/operators", "test/governance/revocation-and-lifecycle.test.ts", "test/governance/delegation-and-tokens.test.ts", "test/pinned"],
  "src/handle": ["test/handle", "test/origin", "test/adversarial/hostile-handles.test.ts", "test/gateway/binding.test.ts", "test/gateway/issue-10-bound-state.test.ts", "test/dpop/proof-of-possession.test.ts", "test/pinned"],
  "src/policy": ["test/governance/policy.test.ts", "test/gateway/revision-2026-tasks.test.ts", "test/gateway/revision-2026-refusals.test.ts", "test/gateway/issue-10-bound-state.test.ts", "test/pinned"],
  "src/auth": ["test/auth", "test/dpop", "test/adversarial/hostile-dpop.test.ts", "test/hardening/unauthenticated-state.test.ts", "test/operators", "test/adversarial/hostile-callers.test.ts", "test/governance/delegation-and-tokens.test.ts", "test/pinned"],
  "src/gateway": ["test/gateway", "test/hardening", "test/origins", "test/governance/policy.test.ts", "test/auth/surfaces.test.ts", "test/adversarial/hostile-handles.test.ts", "test/adversarial/hostile-envelopes.test.ts", "test/pinned"],
  "src/mcp": ["test/mcp", "test/gateway", "test/adversarial/hostile-envelopes.test.ts", "test/pinned"],
  "src/admin": ["test/governance", "test/auth", "test/operators", "test/hardening/audit-checkpoints.test.ts", "test/pinned"],
  "src/proxy": ["test/gateway", "test/adversarial/hostile-envelopes.test.ts", "test/adversarial/faults.test.ts", "test/pinned"],
};
const DEFAULT_MODULES = ["src/ledger", "src/handle", "src/policy", "src/auth", "src/gateway", "src/mcp"];

// ---- options ----

function parseArgs(argv) {
  const options = { modules: [], max: undefined, seed: 9, timeoutSeconds: 240, list: false, out: "reports", only: [], tests: [], ids: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--module") options.modules.push(value().replace(/\/$/, ""));
    else if (arg === "--max") options.max = Number(value());
    else if (arg === "--seed") options.seed = Number(value());
    else if (arg === "--timeout") options.timeoutSeconds = Number(value());
    else if (arg === "--list") options.list = true;
    else if (arg === "--out") options.out = value();
    else if (arg === "--only") options.only.push(value());
    else if (arg === "--tests") options.tests.push(value());
    else if (arg === "--ids") options.ids = new Set(readFileSync(value(), "utf8").split("\n").map((l) => l.trim()).filter(Boolean));
    else throw new Error(`unknown option ${arg}`);
  }
  if (options.max !== undefined && !(Number.isInteger(options.max) && options.max > 0)) throw new Error("--max must be a positive integer");
  if (options.modules.length === 0) options.modules = DEFAULT_MODULES;
  return options;
}

// ---- reading source: which characters are code ----

/**
 * Marks each character of a TypeScript file as code or not (comments, string/template/regex
 * literal contents), and collects the string literals: operators only ever touch code.
 */
function scan(text) {
  const code = new Uint8Array(text.length);
  const strings = [];
  const templateDepth = [];
  let i = 0;
  let lastSignificant = "";
  let lastWord = "";
  const regexMayStart = () => lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant) || ["return", "typeof", "case", "of", "in"].includes(lastWord);
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = i;
      i++;
      while (i < text.length && text[i] !== c && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
      strings.push({ start, end: i + 1, quote: c });
      i++;
      lastSignificant = "a";
      lastWord = "";
      continue;
    }
    if (c === "`" || (c === "}" && templateDepth.length > 0 && templateDepth.at(-1) === 0)) {
      if (c === "}") templateDepth.pop();
      i++;
      while (i < text.length && text[i] !== "`" && !(text[i] === "$" && text[i + 1] === "{")) i += text[i] === "\\" ? 2 : 1;
      if (text[i] === "$") {
        templateDepth.push(0);
        i += 2;
        lastSignificant = "{";
        continue;
      }
      i++;
      lastSignificant = "a";
      lastWord = "";
      continue;
    }
    if (c === "/" && regexMayStart()) {
      i++;
      let inClass = false;
      while (i < text.length && text[i] !== "\n" && (inClass || text[i] !== "/")) {
        if (text[i] === "\\") i++;
        else if (text[i] === "[") inClass = true;
        else if (text[i] === "]") inClass = false;
        i++;
      }
      i++;
      while (/[a-z]/.test(text[i] ?? "")) i++;
      lastSignificant = "a";
      lastWord = "";
      continue;
    }
    code[i] = 1;
    if (templateDepth.length > 0) {
      if (c === "{") templateDepth[templateDepth.length - 1]++;
      else if (c === "}") templateDepth[templateDepth.length - 1]--;
    }
    if (!/\s/.test(c)) {
      lastSignificant = /[\w$]/.test(c) ? "a" : c;
      if (/[\w$]/.test(c)) {
        let j = i;
        while (/[\w$]/.test(text[j] ?? "")) j++;
        lastWord = text.slice(i, j);
        for (let k = i; k < j; k++) code[k] = 1;
        i = j;
        continue;
      }
      lastWord = "";
    }
    i++;
  }
  return { code, strings };
}

// ---- operators ----

/** The fixed operator set: each returns replacements {start, end, text} at code positions. */
const OPERATORS = {
  /** `===` ↔ `!==`. */
  equality(ctx) {
    return matches(ctx, /===|!==/g).map((m) => ({ ...m, text: m.match === "===" ? "!==" : "===" }));
  },
  /** Comparison boundaries: `<` ↔ `<=`, `>` ↔ `>=` (binary operators, spaced as the code formats them). */
  boundary(ctx) {
    const flip = { "<": "<=", "<=": "<", ">": ">=", ">=": ">" };
    return matches(ctx, / (<=|>=|<|>) /g, 1).map((m) => ({ ...m, text: flip[m.match] }));
  },
  /** `&&` ↔ `||`. */
  logical(ctx) {
    return matches(ctx, / (&&|\|\|) /g, 1).map((m) => ({ ...m, text: m.match === "&&" ? "||" : "&&" }));
  },
  /** `if (c)` → `if (!(c))`. */
  "negate-condition"(ctx) {
    const out = [];
    for (const m of matches(ctx, /\bif \(/g)) {
      const open = m.end - 1;
      const close = matchingParen(ctx.text, ctx.code, open);
      if (close === undefined) continue;
      out.push({ start: open + 1, end: close, text: `!(${ctx.text.slice(open + 1, close)})` });
    }
    return out;
  },
  /** Drop a unary `!`. */
  "drop-not"(ctx) {
    return matches(ctx, /(?<![\w$)\]!])!(?=[\w$(!])/g).map((m) => ({ ...m, text: "" }));
  },
  /** `return x;` → `return undefined;` (`true` ↔ `false`). */
  "return-value"(ctx) {
    const out = [];
    for (const m of matches(ctx, /\breturn (?!;)/g)) {
      const end = statementEnd(ctx.text, ctx.code, m.end);
      if (end === undefined) continue;
      const value = ctx.text.slice(m.end, end).trim();
      if (value === "undefined") continue;
      out.push({ start: m.end, end, text: value === "true" ? "false" : value === "false" ? "true" : "undefined" });
    }
    return out;
  },
  /** Remove a whole-line call, assignment, `delete` or `throw` statement. */
  "remove-statement"(ctx) {
    const out = [];
    let lineStart = 0;
    let previous = "{";
    for (const line of ctx.text.split("\n")) {
      const trimmed = line.trim();
      // A statement starts a line after another statement or a block opener, never mid-expression.
      const startsStatement = /[;{}:]$/.test(previous);
      if (trimmed !== "") previous = trimmed;
      const indent = line.length - line.trimStart().length;
      const start = lineStart + indent;
      lineStart += line.length + 1;
      if (!startsStatement || !ctx.code[start] || !trimmed.endsWith(";")) continue;
      if (!/^(await |void |throw |delete |this\.[\w$]+ = |[\w$.]+\(|[\w$.[\]"]+ (=|\+=|\|=|\?\?=) )/.test(trimmed)) continue;
      if (/^(const|let|var|return|import|export)\b/.test(trimmed)) continue;
      if (!balanced(trimmed)) continue;
      out.push({ start, end: start + trimmed.length, text: ";" });
    }
    return out;
  },
  /** Integer literals: n → n + 1 (0 → 1). */
  numeric(ctx) {
    return matches(ctx, /(?<![\w$.])\d[\d_]*(?![\w$.])/g).map((m) => ({ ...m, text: String(Number(m.match.replace(/_/g, "")) + 1) }));
  },
  /** A string operand of a comparison or default (`=== "x"`, `?? "x"`) → `""`. */
  "empty-string"(ctx) {
    const out = [];
    for (const s of ctx.strings) {
      if (s.end - s.start <= 2) continue;
      const before = ctx.text.slice(Math.max(0, s.start - 4), s.start);
      const after = ctx.text.slice(s.end, s.end + 4);
      if (!/(===|!==|\?\?|\|\|) $/.test(before) && !/^ (===|!==)/.test(after)) continue;
      out.push({ start: s.start, end: s.end, text: `${s.quote}${s.quote}` });
    }
    return out;
  },
  /** A non-empty array literal in a value position → `[]`. */
  "empty-array"(ctx) {
    const out = [];
    for (const m of matches(ctx, /(?:[=(,:?]|\breturn|\?\?) \[/g)) {
      const open = m.end - 1;
      const close = matchingParen(ctx.text, ctx.code, open, "[", "]");
      if (close === undefined || close === open + 1 || ctx.text.slice(open, close).includes("\n")) continue;
      out.push({ start: open, end: close + 1, text: "[]" });
    }
    return out;
  },
};

function matches(ctx, regex, group = 0) {
  const out = [];
  for (const m of ctx.text.matchAll(regex)) {
    const offset = group === 0 ? 0 : m[0].indexOf(m[group]);
    const start = m.index + offset;
    const match = m[group];
    let isCode = true;
    for (let k = start; k < start + match.length; k++) if (!ctx.code[k]) isCode = false;
    if (isCode) out.push({ start, end: start + match.length, match });
  }
  return out;
}

function matchingParen(text, code, open, opening = "(", closing = ")") {
  let depth = 0;
  for (let k = open; k < text.length; k++) {
    if (!code[k]) continue;
    if (text[k] === opening) depth++;
    else if (text[k] === closing && --depth === 0) return k;
  }
  return undefined;
}

/** Index of the `;` ending a statement that starts at `from`, on the same line, at bracket depth 0. */
function statementEnd(text, code, from) {
  let depth = 0;
  for (let k = from; k < text.length && text[k] !== "\n"; k++) {
    if (!code[k]) continue;
    if ("([{".includes(text[k])) depth++;
    else if (")]}".includes(text[k])) depth--;
    else if (text[k] === ";" && depth === 0) return k;
    if (depth < 0) return undefined;
  }
  return undefined;
}

function balanced(line) {
  let depth = 0;
  for (const c of line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, "")) {
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

// ---- mutants ----

function sourceFiles(module) {
  const path = join(ROOT, module);
  if (statSync(path).isFile()) return [module];
  return readdirSync(path, { recursive: true })
    .map((f) => join(module, String(f)))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && statSync(join(ROOT, f)).isFile())
    .sort();
}

/** Lines never mutated: imports, type-only declarations and interface members. */
function skippableLine(line) {
  const t = line.trim();
  return /^(import|export \{|export type|export \*|type |interface |\*|\/\/|\/\*)/.test(t) || /^[\w$]+\??: [^=]*;$/.test(t) || /^(readonly |private |public )*[\w$]+\??: [^=(]*;$/.test(t);
}

function mutantsOf(file) {
  const text = readFileSync(join(ROOT, file), "utf8");
  const { code, strings } = scan(text);
  const lineStarts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === "\n") lineStarts.push(k + 1);
  const lineOf = (pos) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const lines = text.split("\n");
  const out = [];
  for (const [operator, find] of Object.entries(OPERATORS)) {
    for (const r of find({ text, code, strings })) {
      const line = lineOf(r.start);
      if (skippableLine(lines[line - 1])) continue;
      const mutated = text.slice(0, r.start) + r.text + text.slice(r.end);
      const mutatedLines = mutated.split("\n");
      const lastLine = lineOf(Math.max(r.start, r.end - 1));
      const after = mutatedLines.slice(line - 1, line - 1 + (lastLine - line + 1) - (text.slice(r.start, r.end).split("\n").length - r.text.split("\n").length)).join("\n");
      out.push({
        id: `${file}:${line}:${r.start - lineStarts[line - 1] + 1}:${operator}`,
        file,
        line,
        operator,
        original: text,
        mutated,
        diff: `- ${lines.slice(line - 1, lastLine).join("\n- ").trim()}\n+ ${after.trim()}`,
      });
    }
  }
  return out.sort((a, b) => a.line - b.line || a.id.localeCompare(b.id));
}

/** A seeded shuffle (mulberry32) so a sample is the same on every run with the same seed. */
function sample(items, max, seed) {
  if (max === undefined || items.length <= max) return items;
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let k = copy.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [copy[k], copy[j]] = [copy[j], copy[k]];
  }
  return copy.slice(0, max).sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
}

// ---- keeping the source intact ----

let pending; // { file, original } while a mutant is on disk

function restorePending() {
  if (!pending) return;
  writeFileSync(join(ROOT, pending.file), pending.original);
  pending = undefined;
  if (existsSync(RESTORE_FILE)) unlinkSync(RESTORE_FILE);
}

function writeMutant(mutant) {
  mkdirSync(join(ROOT, "reports"), { recursive: true });
  // On disk first: if this process is killed outright, the next run restores the file.
  writeFileSync(RESTORE_FILE, JSON.stringify({ file: mutant.file, original: mutant.original }));
  pending = { file: mutant.file, original: mutant.original };
  writeFileSync(join(ROOT, mutant.file), mutant.mutated);
}

function recoverFromCrash() {
  if (!existsSync(RESTORE_FILE)) return;
  const { file, original } = JSON.parse(readFileSync(RESTORE_FILE, "utf8"));
  writeFileSync(join(ROOT, file), original);
  unlinkSync(RESTORE_FILE);
  console.log(`[mutate] restored ${file} left mutated by an interrupted run`);
}

let activeRun;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    activeRun?.kill();
    restorePending();
    console.log(`\n[mutate] ${signal}: source restored`);
    process.exit(130);
  });
}
process.on("exit", () => restorePending());

// ---- running tests ----

function testFilesFor(module) {
  const mapped = TESTS_BY_MODULE[module] ?? Object.entries(TESTS_BY_MODULE).find(([m]) => module.startsWith(`${m}/`))?.[1];
  // Unmapped modules fall back to the whole workers project.
  return (mapped ?? []).filter((p) => existsSync(join(ROOT, p)));
}

async function runTests(files, timeoutSeconds) {
  const started = Date.now();
  const run = spawnGroup("npx", ["vitest", "run", "--project", "workers", "--bail", "1", "--reporter", "dot", ...files], {
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "" },
    label: "vitest",
    stopGraceMs: 3_000,
  });
  activeRun = run;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void run.stop("SIGTERM");
  }, timeoutSeconds * 1000);
  const { code } = await run.exited;
  clearTimeout(timer);
  await run.stop();
  activeRun = undefined;
  const output = run.output();
  const failing = [...new Set(output.split("\n").filter((l) => /(FAIL|×|✗)\s/.test(l)).map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").trim()))].slice(0, 3);
  return { code, timedOut, seconds: Math.round((Date.now() - started) / 100) / 10, failing, output };
}

// ---- reports ----

function slug(module) {
  return module.replace(/^src\//, "").replace(/[^\w.-]+/g, "-");
}

function summarize(results) {
  const count = (status) => results.filter((r) => r.status === status).length;
  const killed = count("killed");
  const timeout = count("timeout");
  const survived = count("survived");
  const valid = killed + timeout + survived;
  return { mutants: results.length, killed, timeout, survived, score: valid === 0 ? null : Math.round(((killed + timeout) / valid) * 1000) / 10 };
}

function moduleMarkdown(module, tests, results, options, totalMutants) {
  const s = summarize(results);
  const lines = [
    `# Mutation report: ${module}`,
    "",
    `Sample: ${results.length} of ${totalMutants} mutants (seed ${options.seed}${options.max ? `, --max ${options.max}` : ""}); tests: ${tests.join(", ") || "the whole workers project"}.`,
    "",
    `Score ${s.score ?? "n/a"}%: killed ${s.killed}, timeout ${s.timeout}, survived ${s.survived}.`,
    "",
    "## Survivors",
    "",
  ];
  const survivors = results.filter((r) => r.status === "survived");
  if (survivors.length === 0) lines.push("None.");
  for (const r of survivors) lines.push(`### ${r.id}`, "", "```diff", r.diff, "```", "");
  lines.push("", "## All mutants", "", "| mutant | status | seconds | killed by |", "|---|---|---|---|");
  for (const r of results) lines.push(`| ${r.id} | ${r.status} | ${r.seconds} | ${(r.failing[0] ?? "").replace(/\|/g, "\\|").slice(0, 120)} |`);
  return `${lines.join("\n")}\n`;
}

// ---- main ----

async function main() {
  const options = parseArgs(process.argv.slice(2));
  recoverFromCrash();
  const gitClean = gitSrcClean();
  const before = new Map();
  const plan = options.modules.map((module) => {
    const files = sourceFiles(module);
    for (const f of files) before.set(f, hash(readFileSync(join(ROOT, f))));
    const all = files.flatMap(mutantsOf);
    // --only keeps the mutants whose id contains one of the given strings (checking one mutant by hand).
    // --ids <file> runs exactly the listed mutant ids (one per line), e.g. an earlier run's survivors.
    const listed = options.ids ? all.filter((m) => options.ids.has(m.id)) : all;
    const wanted = options.only.length === 0 ? listed : listed.filter((m) => options.only.some((o) => m.id.includes(o)));
    return { module, tests: options.tests.length > 0 ? options.tests : testFilesFor(module), all, chosen: sample(wanted, options.max, options.seed) };
  });

  if (options.list) {
    for (const { module, all, chosen } of plan) {
      console.log(`## ${module}: ${chosen.length} of ${all.length} mutants`);
      for (const m of chosen) console.log(`${m.id}\n${m.diff.replace(/^/gm, "    ")}`);
    }
    return 0;
  }

  mkdirSync(join(ROOT, options.out), { recursive: true });
  const overall = [];
  let exitCode = 0;
  for (const { module, tests, all, chosen } of plan) {
    console.log(`[mutate] ${module}: baseline run of ${tests.join(" ") || "the workers project"}`);
    const baseline = await runTests(tests, options.timeoutSeconds * 2);
    if (baseline.code !== 0) {
      console.error(`[mutate] ${module}: the tests fail without any mutant; skipping the module\n${baseline.output.slice(-3000)}`);
      overall.push({ module, error: "baseline failed" });
      exitCode = 2;
      continue;
    }
    const timeout = Math.max(options.timeoutSeconds, Math.ceil(baseline.seconds * 3));
    const results = [];
    for (const [index, mutant] of chosen.entries()) {
      writeMutant(mutant);
      let run;
      try {
        run = await runTests(tests, timeout);
      } finally {
        restorePending();
      }
      const status = run.timedOut ? "timeout" : run.code === 0 ? "survived" : "killed";
      results.push({ id: mutant.id, file: mutant.file, line: mutant.line, operator: mutant.operator, diff: mutant.diff, status, seconds: run.seconds, failing: run.failing });
      console.log(`[mutate] ${module} ${index + 1}/${chosen.length} ${status.padEnd(8)} ${mutant.id} (${run.seconds}s)`);
    }
    const summary = { module, tests, totalMutants: all.length, sampled: chosen.length, seed: options.seed, ...summarize(results) };
    overall.push(summary);
    writeFileSync(join(ROOT, options.out, `mutation-${slug(module)}.json`), `${JSON.stringify({ ...summary, results }, null, 2)}\n`);
    writeFileSync(join(ROOT, options.out, `mutation-${slug(module)}.md`), moduleMarkdown(module, tests, results, options, all.length));
    console.log(`[mutate] ${module}: score ${summary.score}% (killed ${summary.killed}, timeout ${summary.timeout}, survived ${summary.survived} of ${summary.sampled} sampled, ${summary.totalMutants} in all)`);
  }

  const table = ["| module | mutants (all) | sampled | killed | timeout | survived | score |", "|---|---|---|---|---|---|---|"];
  for (const s of overall) {
    table.push(s.error ? `| ${s.module} | | | | | | ${s.error} |` : `| ${s.module} | ${s.totalMutants} | ${s.sampled} | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.score}% |`);
  }
  const command = `npm run mutate -- ${process.argv.slice(2).join(" ")}`.trim();
  writeFileSync(join(ROOT, options.out, "mutation.md"), `# Mutation run\n\n\`${command}\` (${new Date().toISOString()})\n\n${table.join("\n")}\n`);
  writeFileSync(join(ROOT, options.out, "mutation.json"), `${JSON.stringify({ command, at: new Date().toISOString(), modules: overall }, null, 2)}\n`);
  console.log(table.join("\n"));

  // Every mutated file must be byte-identical to what it was before the run.
  const changed = [...before].filter(([f, h]) => hash(readFileSync(join(ROOT, f))) !== h).map(([f]) => f);
  if (changed.length > 0) {
    console.error(`[mutate] NOT RESTORED: ${changed.join(", ")}`);
    return 2;
  }
  if (gitClean && !gitSrcClean()) {
    console.error("[mutate] git diff src is not empty after the run");
    return 2;
  }
  console.log(`[mutate] source verified unchanged${gitClean ? " (git diff --quiet -- src)" : ""}`);
  return exitCode;
}

function hash(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

function gitSrcClean() {
  try {
    execFileSync("git", ["diff", "--quiet", "--", "src"], { cwd: ROOT, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    restorePending();
    console.error(error);
    process.exit(2);
  },
);

