/**
 * `npm start` (scripts/start.mjs) as a newcomer meets it: it starts, prints next steps, the printed
 * lines work as printed, Ctrl-C stops everything, the key survives a restart, and a dying child
 * takes the whole thing down.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimsOf, connect, createTask, devToken, messagesIn } from "./support/mcp.js";
import { freePort, HOST, portIsFree, ROOT, spawnGroup, type GroupProcess } from "./support/processes.js";

const READY_LINE = "Ctrl-C stops all three processes.";
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

let tmp: string;
let env: Record<string, string>;
let base: string;
let originPort: number;
let modernOriginPort: number;
let taskwardPort: number;
const started: GroupProcess[] = [];
/** Process groups of the children of every start, for cleanup if a test fails half-way. */
const childGroups = new Set<number>();

interface Child {
  pid: number;
  args: string;
}

function childrenOf(pid: number): Child[] {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.trim().match(/^(\d+)\s+(.*)$/))
      .flatMap((match) => (match ? [{ pid: Number(match[1]), args: match[2]! }] : []));
  } catch {
    return []; // ps exits 1 when there are none.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForOutput(proc: GroupProcess, text: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes(text)) {
    if (!proc.running()) throw new Error(`npm start exited before printing ${JSON.stringify(text)}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start did not print ${JSON.stringify(text)} within ${timeoutMs} ms:\n${proc.output()}`);
    await sleep(100);
  }
}

/** `node scripts/start.mjs`, in its own process group like a terminal job; resolves once it printed its next steps. */
async function npmStart(): Promise<{ proc: GroupProcess; origin: Child; modernOrigin: Child; taskward: Child }> {
  const proc = spawnGroup(process.execPath, ["scripts/start.mjs"], { cwd: ROOT, env, label: "npm start" });
  started.push(proc);
  await waitForOutput(proc, READY_LINE);
  const children = childrenOf(proc.pid);
  for (const child of children) childGroups.add(child.pid);
  const [origin, modernOrigin] = children.filter((child) => child.args.includes("demo/main.ts"));
  const taskward = children.find((child) => child.args.includes("wrangler"));
  if (!origin || !modernOrigin || !taskward) throw new Error(`expected two origins and wrangler as children, got ${JSON.stringify(children)}`);
  return { proc, origin, modernOrigin, taskward };
}

/** The lines printed under `heading`, up to the next blank line, without their indent; comments dropped. */
function printedBlock(output: string, heading: string): string[] {
  const lines = output.split("\n");
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start < 0) throw new Error(`no ${JSON.stringify(heading)} in:\n${output}`);
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break;
    if (!line.trimStart().startsWith("#")) block.push(line.replace(/^ {2}/, ""));
  }
  return block;
}

/** Runs `commands` in one bash, as pasted one by one, and returns each command's output. */
function runInBash(commands: string[]): string[] {
  const script = commands.flatMap((command, index) => [`echo "@@${index}"`, command]).join("\n");
  const run = spawnSync("bash", ["-c", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
  });
  if (run.status !== 0) throw new Error(`bash exited ${run.status}: ${run.stderr}\n${run.stdout}`);
  const outputs = run.stdout.split(/^@@\d+\n/m).slice(1);
  expect(outputs).toHaveLength(commands.length);
  return outputs;
}

function devVars(): Record<string, string> {
  return parseEnv(readFileSync(join(tmp, "dev.vars"), "utf8")) as Record<string, string>;
}

function activeKid(): string {
  return (JSON.parse(devVars().HANDLE_SIGNING_JWKS!) as { active: string }).active;
}

async function servedKids(): Promise<string[]> {
  const { keys } = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
  return keys.map((key) => key.kid);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-start-"));
  [taskwardPort, originPort, modernOriginPort] = [await freePort(), await freePort(), await freePort()];
  base = `http://${HOST}:${taskwardPort}`;
  env = {
    TASKWARD_PORT: String(taskwardPort),
    DEMO_ORIGIN_PORT: String(originPort),
    DEMO_MODERN_ORIGIN_PORT: String(modernOriginPort),
    TASKWARD_DEV_VARS: join(tmp, "dev.vars"),
    TASKWARD_PERSIST_TO: join(tmp, "state"),
  };
});

afterAll(async () => {
  await Promise.allSettled(started.map((proc) => proc.stop()));
  for (const pgid of childGroups) if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("npm start", () => {
  let first: Awaited<ReturnType<typeof npmStart>>;
  let revokedByCurl: string;
  let keptHandle: string;

  it("writes a persistent signing key, starts all three processes and prints where everything is", async () => {
    first = await npmStart();
    const output = first.proc.output();
    const kid = activeKid();

    expect(devVars()).toMatchObject({ ADMIN_TOKEN: "dev-admin-token", HANDLE_SIGNING_JWKS: expect.stringContaining('"d":') });
    expect(output).toContain(`Generated signing key ${kid} in ${join(tmp, "dev.vars")}.`);
    expect(await servedKids()).toEqual([kid]);
    expect(output).toContain(`MCP endpoint   ${base}/mcp   (the default origin: legacy)`);
    expect(output).toContain(`MCP endpoint (legacy, 2025-11-25): ${base}/mcp/legacy\n`);
    expect(output).toContain(`MCP endpoint (modern, 2026-07-28): ${base}/mcp/modern\n`);
    expect(output).toContain(`demo origin    http://${HOST}:${originPort}/mcp   (MCP 2025-11-25;`);
    expect(output).toContain(`demo origin    http://${HOST}:${modernOriginPort}/mcp   (MCP 2026-07-28;`);
    expect(output).toContain("admin token    dev-admin-token");
    expect(output).toContain(`console        ${base}/console`);
  });

  it("prints curl lines that, pasted as printed, create, poll, fetch and revoke a task", async () => {
    const commands = printedBlock(first.proc.output(), "Or by hand with curl");
    const outputs = runInBash(commands);
    const outputOf = (prefix: string) => outputs[commands.findIndex((command) => command.includes(prefix))]!;

    const handle = outputOf("HANDLE=$(").trim();
    expect(handle).toMatch(COMPACT_JWS);
    expect(claimsOf(handle)).toMatchObject({ tenant: "acme", client_id: "demo-cli", sub: "alice", tool: "slow_echo" });

    const [polled] = messagesIn(outputOf('"id":3,"method":"tasks/get"'));
    expect(polled).toMatchObject({ id: 3, result: { taskId: handle, status: "working" } });

    const [result] = messagesIn(outputOf('"method":"tasks/result"'));
    expect(result).toMatchObject({ id: 4, result: { content: [{ type: "text", text: "hello from taskward" }] } });
    // The handle names no origin task (the ledger maps it), so none can leak through it.
    expect(claimsOf(handle).task).toBeUndefined();

    expect(JSON.parse(outputOf("/admin/revocations"))).toEqual({ tenant: "acme", jti: claimsOf(handle).jti, revoked: 1 });

    const refused = messagesIn(outputs.at(-1)!);
    expect(commands.at(-1)).toContain('"id":5,"method":"tasks/get"');
    expect(refused).toEqual([{ jsonrpc: "2.0", id: 5, error: { code: -32602, message: "Task not found" } }]);
    revokedByCurl = handle;
  });

  it("prints a walkthrough command that tours create, poll, result, list, refusal and revocation", async () => {
    const [command] = printedBlock(first.proc.output(), "Guided tour");
    expect(command).toBe(`TASKWARD_URL=${base} node scripts/demo-walkthrough.mjs`);
    const [output] = runInBash([command!]);

    expect(output).toContain("status: completed");
    expect(output).toContain("result: hello from taskward");
    expect(output).toMatch(/bob's tasks\/get refused: MCP error -32602: Task not found/);
    expect(output).toMatch(/POST \/admin\/revocations → 200: \{"tenant":"acme","jti":"[\w-]+","revoked":1\}/);
    expect(output).toMatch(/alice's tasks\/get on the revoked handle refused: MCP error -32602: Task not found/);
  });

  it("answers a real call through each printed MCP endpoint, each behind its own origin", async () => {
    const endpoints = [...first.proc.output().matchAll(/MCP endpoint \((\w+), ([\d-]+)\): (\S+)/g)].map((m) => ({ name: m[1]!, revision: m[2]!, url: m[3]! }));
    expect(endpoints).toEqual([
      { name: "legacy", revision: "2025-11-25", url: `${base}/mcp/legacy` },
      { name: "modern", revision: "2026-07-28", url: `${base}/mcp/modern` },
    ]);
    // 2025-11-25 with the official SDK client through /mcp/legacy.
    const legacy = await connect(base, { tenant: "acme", client_id: "demo-cli", sub: "dave" }, "/mcp/legacy");
    const legacyHandle = await createTask(legacy.client, "slow_echo", { text: "through legacy", delayMs: 0 });
    await legacy.client.close();
    expect(claimsOf(legacyHandle).aud).toBe(`http://${HOST}:${originPort}/mcp`);
    // 2026-07-28 (stateless, tasks extension) through /mcp/modern.
    const token = await devToken(base, { tenant: "acme", client_id: "demo-cli", sub: "erin" });
    const call = async (method: string, params: Record<string, unknown>, name: string) => {
      const response = await fetch(`${base}/mcp/modern`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, "mcp-protocol-version": "2026-07-28", "mcp-method": method, "mcp-name": name },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": { name: "e2e", version: "0" }, "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} } } } } }),
      });
      return messagesIn(await response.text())[0] as Record<string, any>;
    };
    const created = await call("tools/call", { name: "slow_compute", arguments: { seconds: 0.1, label: "modern" } }, "slow_compute");
    expect(created.result).toMatchObject({ resultType: "task" });
    const modernHandle = created.result.taskId as string;
    expect(claimsOf(modernHandle).aud).toBe(`http://${HOST}:${modernOriginPort}/mcp`);
    expect((await call("tasks/get", { taskId: modernHandle }, modernHandle)).result).toMatchObject({ taskId: modernHandle });
    // Each origin's handle is unknown behind the other.
    expect((await call("tasks/get", { taskId: legacyHandle }, legacyHandle)).error).toEqual({ code: -32602, message: "Task not found" });
  });

  it("stops all three processes and exits 0 on Ctrl-C", async () => {
    const caller = await connect(base, { tenant: "acme", client_id: "demo-cli", sub: "carol" });
    keptHandle = await createTask(caller.client, "slow_echo", { text: "before restart", delayMs: 0 });
    await caller.client.close();

    process.kill(-first.proc.pid, "SIGINT");
    expect(await first.proc.exited).toEqual({ code: 0, signal: null });
    expect(first.proc.output()).toContain("SIGINT: stopping the demo origins and taskward");
    expect(groupAlive(first.origin.pid)).toBe(false);
    expect(groupAlive(first.modernOrigin.pid)).toBe(false);
    expect(groupAlive(first.taskward.pid)).toBe(false);
    expect(await portIsFree(taskwardPort)).toBe(true);
    expect(await portIsFree(originPort)).toBe(true);
    expect(await portIsFree(modernOriginPort)).toBe(true);
  });

  it("keeps its signing key and ledger across a restart, and exits 0 on SIGTERM", async () => {
    const kid = activeKid();
    const varsBefore = readFileSync(join(tmp, "dev.vars"), "utf8");
    const second = await npmStart();

    expect(second.proc.output()).toContain(`Using signing key ${kid} from ${join(tmp, "dev.vars")}.`);
    expect(readFileSync(join(tmp, "dev.vars"), "utf8")).toBe(varsBefore);
    expect(await servedKids()).toEqual([kid]);
    const adminHeaders = { "content-type": "application/json", authorization: "Bearer dev-admin-token" };
    // A handle from before the restart still verifies, and the ledger still knows it.
    const revoke = await fetch(`${base}/admin/revocations`, { method: "POST", headers: adminHeaders, body: JSON.stringify({ handle: keptHandle }) });
    expect(await revoke.json()).toEqual({ tenant: "acme", jti: claimsOf(keptHandle).jti, revoked: 1 });
    // The one revoked through curl before the restart is still revoked.
    const record = await fetch(`${base}/admin/tenants/acme/tasks/${claimsOf(revokedByCurl).jti}`, { headers: adminHeaders });
    expect(await record.json()).toMatchObject({ jti: claimsOf(revokedByCurl).jti, revokeReason: "admin" });

    process.kill(second.proc.pid, "SIGTERM");
    expect(await second.proc.exited).toEqual({ code: 0, signal: null });
    expect(groupAlive(second.origin.pid)).toBe(false);
    expect(groupAlive(second.taskward.pid)).toBe(false);
  });

  it("stops taskward and exits 1 when the demo origin dies", async () => {
    const third = await npmStart();
    process.kill(-third.origin.pid, "SIGKILL");

    expect(await third.proc.exited).toEqual({ code: 1, signal: null });
    expect(third.proc.output()).toContain("origin exited unexpectedly (SIGKILL); stopping modern origin and taskward.");
    expect(groupAlive(third.taskward.pid)).toBe(false);
    expect(groupAlive(third.modernOrigin.pid)).toBe(false);
    expect(await portIsFree(taskwardPort)).toBe(true);
  });

  it("refuses to start, naming the variable to change, when its port is taken", async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(taskwardPort, HOST, resolve));
    try {
      const proc = spawnGroup(process.execPath, ["scripts/start.mjs"], { cwd: ROOT, env, label: "npm start" });
      started.push(proc);
      expect(await proc.exited).toEqual({ code: 1, signal: null });
      expect(proc.output()).toContain(`port ${taskwardPort} on ${HOST} is in use (another npm start?); set TASKWARD_PORT to use another port`);
      expect(proc.output()).not.toContain("[taskward]");
      expect(proc.output()).not.toContain("[origin]");
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
