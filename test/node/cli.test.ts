import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { eventHash, genesisHash, type AuditEvent } from "../../src/ledger/audit-chain.js";
import { loadKeyRing } from "../../src/handle/keyring.js";

const run = promisify(execFile);

/** Runs the CLI exactly as an operator would: `node bin/taskward.mjs …`. */
async function taskward(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/taskward.mjs", ...args], { env: { ...process.env, TASKWARD_URL: "", TASKWARD_ADMIN_TOKEN: "" } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function chain(tenant: string, count: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = genesisHash(tenant);
  for (let seq = 1; seq <= count; seq++) {
    const event = { seq, at: 1000 + seq, last_at: 1000 + seq, count: 1, type: seq === 1 ? "issued" : "allowed", jti: "j1", op: seq === 1 ? null : "get", client_id: "c", subject: "s", reason: null, detail: null, prev_hash: prev } as const;
    const hash = eventHash(event);
    events.push({ ...event, hash });
    prev = hash;
  }
  return events;
}

async function exportFile(tenant: string, events: unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "taskward-cli-"));
  const path = join(dir, "audit.ndjson");
  await writeFile(path, [JSON.stringify({ taskward_audit: 1, tenant, anchor: null }), ...events.map((e) => JSON.stringify(e))].join("\n") + "\n");
  return path;
}

describe("taskward CLI", () => {
  it("prints usage and exits 2 for unknown commands and bad flags", async () => {
    const unknown = await taskward("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command: frobnicate");
    expect(unknown.stderr).toContain("Usage:");
    const badFlag = await taskward("keys", "generate", "--colour", "blue");
    expect(badFlag.code).toBe(2);
    const help = await taskward("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("taskward audit verify");
  });

  it("generates, rotates and retires signing keys the Worker accepts", async () => {
    const generated = await taskward("keys", "generate", "--alg", "ES256");
    expect(generated.code).toBe(0);
    expect(generated.stderr).toContain("wrangler secret put HANDLE_SIGNING_JWKS");
    const first = await loadKeyRing(generated.stdout);
    expect(first.signing.alg).toBe("ES256");

    const dir = await mkdtemp(join(tmpdir(), "taskward-keys-"));
    const current = join(dir, "current.json");
    await writeFile(current, generated.stdout);
    const rotated = await taskward("keys", "rotate", "--file", current);
    expect(rotated.code).toBe(0);
    const ring = await loadKeyRing(rotated.stdout);
    expect(ring.verifying.size).toBe(2);
    expect(ring.activeKid).not.toBe(first.activeKid);

    await writeFile(current, rotated.stdout);
    expect((await taskward("keys", "retire", "--file", current, "--kid", ring.activeKid)).code).toBe(2);
    const retired = await taskward("keys", "retire", "--file", current, "--kid", first.activeKid);
    expect(retired.code).toBe(0);
    expect((await loadKeyRing(retired.stdout)).verifying.size).toBe(1);
    expect(JSON.parse(await readFile(current, "utf8")).keys).toHaveLength(2);
  });

  it("rejects a bad --alg with exit 2", async () => {
    const result = await taskward("keys", "generate", "--alg", "HS256");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--alg must be one of EdDSA, ES256");
  });

  it("verifies an exported audit chain, and exits 1 when an event was altered, removed or reordered", async () => {
    const events = chain("acme", 5);
    const good = await taskward("audit", "verify", "--file", await exportFile("acme", events));
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ tenant: "acme", valid: true, events: 5 });

    const altered = events.map((e) => (e.seq === 3 ? { ...e, subject: "mallory" } : e));
    const removed = events.filter((e) => e.seq !== 2);
    const reordered = [events[0], events[2], events[1], events[3], events[4]];
    const otherTenant = events;
    for (const [label, tampered, tenant] of [["altered", altered, "acme"], ["removed", removed, "acme"], ["reordered", reordered, "acme"], ["moved to another tenant", otherTenant, "globex"]] as const) {
      const result = await taskward("audit", "verify", "--file", await exportFile(tenant, tampered as unknown[]));
      expect(result.code, label).toBe(1);
      expect(result.stderr, label).toContain("BROKEN");
    }
  });

  it("needs a URL and admin token for remote commands (exit 2), and reports an unreachable server (exit 1)", async () => {
    const noUrl = await taskward("revoke", "--tenant", "acme", "--all");
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain("--url");
    const ambiguous = await taskward("revoke", "--url", "http://127.0.0.1:9", "--admin-token", "x", "--tenant", "acme", "--jti", "a", "--sub", "b");
    expect(ambiguous.code).toBe(2);
    const unreachable = await taskward("tasks", "--url", "http://127.0.0.1:9", "--admin-token", "x", "--tenant", "acme");
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach");
  });

  it("shows a revocation that a ledger shard failed as NOT REVOKED, retryable, with the server's count of failed shards (exit 1)", async () => {
    // Stands in for the authority's admin API: the body is the Worker's 503 when 1 of 4 shards cannot be reached
    // (the real answer is asserted in test/ledger/shards.test.ts; here only the CLI's rendering is under test).
    const answer = {
      error: "ledger_unavailable",
      message: "1 of 4 ledger shards of tenant acme could not be reached (shards 2); the operation is not reported done: retry",
      shards: 4,
      shardsFailed: 1,
      failedShards: [2],
      retryable: true,
    };
    const server = createServer((req, res) => {
      res.writeHead(req.url === "/admin/revocations" ? 503 : 404, { "content-type": "application/json", "retry-after": "1" });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await taskward("revoke", "--url", url, "--admin-token", "x", "--tenant", "acme", "--all");
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`NOT REVOKED (HTTP 503, retryable): ${answer.message}. Run the same command again.`);
      expect(JSON.parse(result.stdout)).toEqual(answer);
    } finally {
      server.close();
    }
  });
});
