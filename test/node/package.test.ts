/**
 * The published package as a user meets it: `npm pack` this checkout, install the tarball into a
 * fresh Node project and a fresh Worker project in a temp dir outside the repository, and verify
 * a handle minted by a running authority (`wrangler dev` + the demo origin) with
 * `taskward/origin` from plain JavaScript: in Node, and in workerd after wrangler bundled it.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { claimsOf, connect, createTask, waitForStatus, type Caller } from "../e2e/support/mcp.js";
import { freePort, HOST, ROOT, spawnGroup, startAuthority, waitUntil, writeSecretsFile, type Authority, type GroupProcess } from "../e2e/support/processes.js";

const run = promisify(execFile);
const SETUP_TIMEOUT_MS = 150_000;
/** wrangler bundles, then starts workerd: slow on a loaded machine. */
const WORKER_TEST_TIMEOUT_MS = 180_000;

let tmp: string;
let tarball: string;
let packedFiles: string[];
let consumer: string;
let workerProject: string;
let demo: DemoOrigin | undefined;
let authority: Authority | undefined;
let alice: Caller | undefined;
/** The origin Worker under wrangler dev, stopped by afterAll even when its test times out. */
let originWorker: GroupProcess | undefined;
/** The handle taskward sent the origin in Taskward-Task-Handle, and the origin task id it stands for. */
let received: { handle: string; taskId: string };

/** The environment of a user's shell: none of the npm_* variables `npm test` sets for this checkout. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_"))) as Record<string, string>;
  return { ...env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...extra };
}

async function sh(command: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(command, args, { cwd, env: userEnv() as NodeJS.ProcessEnv, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
  }
}

/** A new directory holding only a package.json, with the tarball installed as a registry user would. */
async function freshProject(name: string, manifest: Record<string, unknown>): Promise<string> {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "0.0.0", private: true, type: "module", ...manifest }, null, 2));
  await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], dir);
  return dir;
}

const VERIFY_MJS = `import { verifyTaskHandle, TaskHandleError, TASK_HANDLE_HEADER } from "taskward/origin";

const [handle, issuer, audience, jwksUrl] = process.argv.slice(2);
const jwks = new URL(jwksUrl);
const codeOf = (promise) => promise.then(() => "accepted", (error) => (error instanceof TaskHandleError ? error.code : String(error)));
const claims = await verifyTaskHandle(handle, { issuer, audience, jwks });
const document = await (await fetch(jwksUrl)).json();
const fromDocument = await verifyTaskHandle(handle, { issuer, audience, jwks: document });
const otherAudience = await codeOf(verifyTaskHandle(handle, { issuer, audience: "https://elsewhere.example/mcp", jwks }));
const badSignature = await codeOf(verifyTaskHandle(handle.slice(0, -4) + (handle.endsWith("AAAA") ? "BBBB" : "AAAA"), { issuer, audience, jwks }));
console.log(JSON.stringify({ header: TASK_HANDLE_HEADER, claims, fromDocumentTask: fromDocument.task, otherAudience, badSignature }));
`;

const TYPED_TS = `import { verifyTaskHandle, taskHandleMiddleware, TaskHandleError, type TaskHandleClaims, type TaskHandleErrorCode } from "taskward/origin";

export async function taskOf(handle: string): Promise<string> {
  const claims: TaskHandleClaims = await verifyTaskHandle(handle, { issuer: "https://a.example", audience: "https://o.example/mcp", jwks: new URL("https://a.example/.well-known/jwks.json") });
  return claims.task;
}
export const code = (error: unknown): TaskHandleErrorCode | undefined => (error instanceof TaskHandleError ? error.code : undefined);
export const middleware = taskHandleMiddleware({ issuer: "https://a.example", audience: "https://o.example/mcp", jwks: { keys: [] }, required: true });
`;

const WORKER_MJS = `import { verifyTaskHandle, TaskHandleError, TASK_HANDLE_HEADER } from "taskward/origin";

export default {
  async fetch(request, env) {
    try {
      const claims = await verifyTaskHandle(request.headers.get(TASK_HANDLE_HEADER) ?? "", {
        issuer: env.ISSUER,
        audience: env.AUDIENCE,
        jwks: new URL(env.JWKS_URL),
      });
      return Response.json({ task: claims.task, tenant: claims.tenant, sub: claims.sub });
    } catch (error) {
      return Response.json({ code: error instanceof TaskHandleError ? error.code : String(error) }, { status: 403 });
    }
  },
};
`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-package-"));
  if (!relative(ROOT, tmp).startsWith("..")) throw new Error(`${tmp} is inside the repository; the package must be tried outside it`);

  // `npm pack` runs `prepare`, which builds dist/: the tarball is what `npm publish` would upload.
  const packed = JSON.parse((await sh("npm", ["pack", "--json", "--pack-destination", tmp], ROOT)).stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(tmp, packed[0]!.filename);
  packedFiles = packed[0]!.files.map((file) => file.path).sort();
  consumer = await freshProject("origin-consumer", {});
  workerProject = await freshProject("worker-consumer", {});

  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const kid = `pkg-${randomBytes(4).toString("hex")}`;
  const signingJwk: JWK = { ...(await exportJWK(pair.privateKey)), kid, alg: "EdDSA" };
  const secretsFile = join(tmp, "secrets.env");
  writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: JSON.stringify({ keys: [signingJwk], active: kid }), ADMIN_TOKEN: randomBytes(24).toString("base64url") });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  demo = await startDemoOrigin({ port: 0, handleVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`) }, requireHandle: true });
  // The compatibility mode forwards the origin's copy of each handle, which this package's verifier checks.
  authority = await startAuthority({ port, originUrl: demo.url, persistTo: join(tmp, "state"), secretsFile, kid, vars: { FORWARD_TASK_HANDLE_HEADER: "true" } });

  alice = await connect(authority.url, { tenant: "acme", client_id: "pkg-client", sub: "alice" });
  const taskId = await createTask(alice.client, "slow_echo", { text: "packaged", delayMs: 10 });
  await waitForStatus(alice.client, taskId, "completed");
  // The origin receives its own copy of the client's handle: same jti, naming the origin's task.
  const jti = claimsOf(taskId).jti;
  const followUp = demo.received.find((message) => message.method === "tasks/get" && message.handle !== undefined && claimsOf(message.handle).jti === jti);
  if (!followUp?.taskId) throw new Error(`the origin received no tasks/get carrying the handle: ${JSON.stringify(demo.received)}`);
  received = { handle: followUp.handle!, taskId: followUp.taskId };
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await alice?.client.close().catch(() => undefined);
  await originWorker?.stop();
  await authority?.stop();
  await demo?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, SETUP_TIMEOUT_MS);

describe("the npm package", () => {
  it("ships built JavaScript, types, the bin and the license, and depends on jose only", () => {
    expect(packedFiles).toEqual(expect.arrayContaining(["LICENSE", "README.md", "package.json", "bin/taskward.mjs", "dist/cli/main.js", "dist/origin/index.js", "dist/origin/index.d.ts"]));
    expect(packedFiles.filter((path) => !/^(bin\/taskward\.mjs|dist\/.+\.(js|d\.ts)|LICENSE|README\.md|package\.json)$/.test(path))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(consumer, "node_modules/taskward/package.json"), "utf8"));
    expect(installed.private).toBeUndefined();
    expect(Object.keys(installed.dependencies)).toEqual(["jose"]);
    expect(installed.exports["./origin"]).toEqual({ types: "./dist/origin/index.d.ts", default: "./dist/origin/index.js" });
    expect(readdirSync(join(consumer, "node_modules"), { withFileTypes: true }).filter((entry) => entry.isDirectory() && !entry.name.startsWith(".")).map((entry) => entry.name).sort()).toEqual(["jose", "taskward"]);
  });

  it("a plain Node project imports taskward/origin and verifies the handle the origin received", async () => {
    writeFileSync(join(consumer, "verify.mjs"), VERIFY_MJS);
    const { stdout } = await sh(process.execPath, ["verify.mjs", received.handle, authority!.url, demo!.url, `${authority!.url}/.well-known/jwks.json`], consumer);
    const result = JSON.parse(stdout);
    expect(result.header).toBe("Taskward-Task-Handle");
    expect(result.claims).toMatchObject({ iss: authority!.url, aud: demo!.url, tenant: "acme", client_id: "pkg-client", sub: "alice", task: received.taskId, tool: "slow_echo" });
    expect(result.fromDocumentTask).toBe(received.taskId);
    expect(result.otherAudience).toBe("ERR_HANDLE_CLAIM");
    expect(result.badSignature).toBe("ERR_HANDLE_SIGNATURE");
  });

  it("a TypeScript project type-checks against the shipped .d.ts, library types included, without hono", async () => {
    writeFileSync(join(consumer, "typed.ts"), TYPED_TS);
    writeFileSync(join(consumer, "tsconfig.json"), JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022", "DOM"], types: [], strict: true, skipLibCheck: false, noEmit: true },
      files: ["typed.ts"],
    }));
    await sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], consumer);
    // The same project with a type error must fail, or the check above proves nothing.
    writeFileSync(join(consumer, "typed.ts"), `${TYPED_TS}\nexport const wrong: number = ({} as TaskHandleClaims).task;\n`);
    await expect(sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], consumer)).rejects.toThrow(/TS2322/);
  });

  it("a Worker project bundles taskward/origin with wrangler and verifies the handle in workerd", async () => {
    mkdirSync(join(workerProject, "src"));
    writeFileSync(join(workerProject, "src/index.mjs"), WORKER_MJS);
    writeFileSync(join(workerProject, "wrangler.toml"), 'name = "origin-worker"\nmain = "src/index.mjs"\ncompatibility_date = "2026-11-01"\n');
    await sh(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", "out"], workerProject);
    const bundle = readFileSync(join(workerProject, "out/index.js"), "utf8");
    expect(bundle).toContain("Taskward-Task-Handle");
    // The deploy bundle itself, run unchanged in workerd (--no-bundle), as the origin's Worker.
    const port = await freePort();
    // Its own inspector port: wrangler's default (9229, or the next free one) races other wrangler devs on the machine.
    const inspectorPort = await freePort();
    const worker = (originWorker = spawnGroup(
      process.execPath,
      [
        join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "dev", "out/index.js", "--no-bundle",
        "--ip", HOST, "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", join(tmp, "worker-state"),
        "--var", `ISSUER:${authority!.url}`, "--var", `AUDIENCE:${demo!.url}`, "--var", `JWKS_URL:${authority!.url}/.well-known/jwks.json`,
        "--show-interactive-dev-session=false",
      ],
      { cwd: workerProject, env: userEnv(), label: "wrangler dev (origin Worker)" },
    ));
    try {
      const verify = (handle: string) => fetch(`http://${HOST}:${port}/mcp`, { headers: { "Taskward-Task-Handle": handle } });
      await waitUntil(`http://${HOST}:${port}/`, (response) => response.status === 403, worker, 120_000);
      const ok = await verify(received.handle);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ task: received.taskId, tenant: "acme", sub: "alice" });
      const forged = await verify(received.handle.slice(0, -4) + (received.handle.endsWith("AAAA") ? "BBBB" : "AAAA"));
      expect(forged.status).toBe(403);
      expect(await forged.json()).toEqual({ code: "ERR_HANDLE_SIGNATURE" });
    } finally {
      await worker.stop();
    }
  }, WORKER_TEST_TIMEOUT_MS);

  it("npx taskward runs the built CLI from the installed tarball, without tsx", async () => {
    const help = await sh("npx", ["--no-install", "taskward", "--help"], consumer);
    expect(help.stdout).toContain("Usage:");
    expect(help.stdout).toContain("taskward keys generate");
    const generated = await sh("npx", ["--no-install", "taskward", "keys", "generate"], consumer);
    const document = JSON.parse(generated.stdout) as { keys: Array<{ kid: string; alg: string; d?: string }>; active: string };
    expect(document.keys).toHaveLength(1);
    expect(document.keys[0]).toMatchObject({ alg: "EdDSA", kid: document.active });
    expect(typeof document.keys[0]!.d).toBe("string");
    const cli = readFileSync(join(consumer, "node_modules/taskward/bin/taskward.mjs"), "utf8") + readFileSync(join(consumer, "node_modules/taskward/dist/cli/main.js"), "utf8");
    expect(cli).not.toMatch(/\btsx\b/);
  });
});
