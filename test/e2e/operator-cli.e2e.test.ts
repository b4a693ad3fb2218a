/**
 * The operator CLI as an operator runs it (`node bin/taskward.mjs …`) against a real authority
 * under `wrangler dev`, with the official SDK client holding the handles it acts on.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { generateSigningJwks } from "../../src/handle/keyring.js";
import { claimsOf, connect, createTask, type Caller, expectTaskNotFound } from "./support/mcp.js";
import { freePort, startAuthority, writeSecretsFile, type Authority } from "./support/processes.js";

const run = promisify(execFile);
let tmp: string;
let base: string;
let adminToken: string;
let demo: DemoOrigin;
let authority: Authority | undefined;
const callers: Caller[] = [];

async function taskward(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, TASKWARD_URL: base, TASKWARD_ADMIN_TOKEN: adminToken };
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/taskward.mjs", ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function caller(tenant: string, sub: string): Promise<Caller> {
  const connected = await connect(base, { tenant, client_id: "cli-e2e", sub });
  callers.push(connected);
  return connected;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-cli-e2e-"));
  const signingJwks = await generateSigningJwks("EdDSA");
  const kid = JSON.parse(signingJwks).active as string;
  adminToken = randomBytes(24).toString("base64url");
  const secretsFile = join(tmp, "secrets.env");
  writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: signingJwks, ADMIN_TOKEN: adminToken });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  demo = await startDemoOrigin({ port: 0, assertionVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`) } });
  // Tenant cli-shards keeps its ledger in 4 shards (issue 15); every other tenant in one.
  authority = await startAuthority({ port, originUrl: demo.url, persistTo: join(tmp, "state"), secretsFile, kid, vars: { LEDGER_SHARDS_BY_TENANT: JSON.stringify({ "cli-shards": 4 }) } });
});

afterAll(async () => {
  await Promise.allSettled(callers.map(({ client }) => client.close()));
  await authority?.stop();
  await demo?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("taskward CLI against a running authority", () => {
  it("dev-token mints a bearer token the authority accepts", async () => {
    const result = await taskward("dev-token", "--tenant", "cli", "--client", "c", "--sub", "s");
    expect(result.code).toBe(0);
    const response = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${result.stdout.trim()}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "0" } } }),
    });
    expect(response.status).toBe(200);
  });

  it("lists a tenant's tasks and revokes one handle, then a whole subject", async () => {
    const alice = await caller("cli-a", "alice");
    const first = await createTask(alice.client, "slow_echo", { text: "one", delayMs: 50 });
    const second = await createTask(alice.client, "slow_echo", { text: "two", delayMs: 50 });
    const listed = await taskward("tasks", "--tenant", "cli-a", "--json");
    expect(listed.code).toBe(0);
    const jtis = (JSON.parse(listed.stdout) as Array<{ jti: string }>).map((t) => t.jti);
    expect(jtis).toEqual(expect.arrayContaining([claimsOf(first).jti, claimsOf(second).jti]));
    const table = await taskward("tasks", "--tenant", "cli-a");
    expect(table.stdout.split("\n")[0]).toBe("jti\ttool\tclient\tsubject\tstatus\texpires\tstate");

    const one = await taskward("revoke", "--handle", first, "--reason", "leaked");
    expect(one.code).toBe(0);
    await expectTaskNotFound(alice.client.experimental.tasks.getTask(first));
    expect((await alice.client.experimental.tasks.getTask(second)).taskId).toBe(second);

    const subject = await taskward("revoke", "--tenant", "cli-a", "--sub", "alice");
    expect(subject.code).toBe(0);
    await expectTaskNotFound(alice.client.experimental.tasks.getTask(second));
    expect((await taskward("revoke", "--tenant", "cli-a", "--jti", "no-such-jti")).code).toBe(1);
  });

  it("exports an audit trail that verifies, and detects an edited export", async () => {
    const bob = await caller("cli-b", "bob");
    const handle = await createTask(bob.client, "slow_echo", { text: "audited", delayMs: 20 });
    for (let i = 0; i < 3; i++) await bob.client.experimental.tasks.getTask(handle);
    const out = join(tmp, "audit.ndjson");
    const exported = await taskward("audit", "export", "--tenant", "cli-b", "--out", out);
    expect(exported.code).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(JSON.parse(lines[0]!)).toMatchObject({ taskward_audit: 1, tenant: "cli-b" });
    const events = lines.slice(1).map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["issued", "allowed"]));

    const verified = await taskward("audit", "verify", "--file", out);
    expect(verified.code).toBe(0);
    expect((await taskward("audit", "verify", "--tenant", "cli-b")).code).toBe(0);

    // Blame the allowed polls on someone else.
    const target = events.find((e) => e.type === "allowed" && e.subject === "bob");
    const edited = lines.map((line) => (line.includes(`"seq":${target.seq},`) ? line.replace('"subject":"bob"', '"subject":"eve"') : line));
    expect(edited).not.toEqual(lines);
    writeFileSync(out, `${edited.join("\n")}\n`);
    const broken = await taskward("audit", "verify", "--file", out);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`BROKEN at seq ${target.seq}`);
  });

  it("exports and verifies every shard's chain of a sharded tenant, reporting per shard, and names the broken or missing shard", async () => {
    const carol = await caller("cli-shards", "carol");
    const handles: string[] = [];
    for (let i = 0; i < 8; i++) handles.push(await createTask(carol.client, "slow_echo", { text: `s${i}`, delayMs: 20 }));
    for (const handle of handles) await carol.client.experimental.tasks.getTask(handle);
    expect(new Set(handles.map((h) => claimsOf(h).shd ?? 0)).size).toBe(4);

    const fromServer = await taskward("audit", "verify", "--tenant", "cli-shards");
    expect(fromServer.code).toBe(0);
    const report = JSON.parse(fromServer.stdout) as { valid: boolean; shards: Array<{ shard: number; valid: boolean; events: number }> };
    expect(report.valid).toBe(true);
    expect(report.shards.map((s) => [s.shard, s.valid])).toEqual([[0, true], [1, true], [2, true], [3, true]]);
    for (let shard = 0; shard < 4; shard++) expect(fromServer.stderr).toContain(`audit chain of cli-shards shard ${shard} verifies:`);

    const out = join(tmp, "sharded.ndjson");
    expect((await taskward("audit", "export", "--tenant", "cli-shards", "--out", out)).code).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    const headers = lines.map((line) => JSON.parse(line)).filter((entry) => entry.taskward_audit === 1);
    expect(headers.map((h) => [h.shard, h.shards])).toEqual([[0, 4], [1, 4], [2, 4], [3, 4]]);
    // Each shard's section holds exactly the issuance of the handles that name it.
    let section = -1;
    const issuedIn = new Map<string, number>();
    for (const line of lines) {
      const entry = JSON.parse(line);
      if (entry.taskward_audit === 1) section = entry.shard;
      else if (entry.type === "issued") issuedIn.set(entry.jti, section);
    }
    for (const handle of handles) expect(issuedIn.get(claimsOf(handle).jti)).toBe(claimsOf(handle).shd ?? 0);
    expect((await taskward("audit", "verify", "--file", out)).code).toBe(0);

    // An edited event in shard 2's section breaks that shard's chain, and only that one.
    const inShard2 = handles.find((h) => claimsOf(h).shd === 2)!;
    const edited = lines.map((line) => (line.includes(`"jti":"${claimsOf(inShard2).jti}"`) && line.includes('"type":"issued"') ? line.replace('"subject":"carol"', '"subject":"eve"') : line));
    expect(edited).not.toEqual(lines);
    writeFileSync(out, `${edited.join("\n")}\n`);
    const broken = await taskward("audit", "verify", "--file", out);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/audit chain of cli-shards shard 2 is BROKEN at seq \d+/);
    expect(broken.stderr).toContain("audit chain of cli-shards shard 3 verifies:");

    // A section left out of the export is reported missing.
    const start3 = lines.findIndex((line) => line.includes('"taskward_audit":1') && line.includes('"shard":3'));
    writeFileSync(out, `${lines.slice(0, start3).join("\n")}\n`);
    const partial = await taskward("audit", "verify", "--file", out);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toContain("audit chain of cli-shards shard 3 is MISSING from the export");
  });

  it("refuses a wrong admin token with exit 1 and the server's message", async () => {
    const result = await taskward("tasks", "--tenant", "cli-a", "--admin-token", "wrong");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("HTTP 401");
  });
});
