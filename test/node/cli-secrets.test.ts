/**
 * Issue 11, finding 10 and the offline half of finding 7: the CLI writes secrets and exports
 * 0600, takes the admin token from the environment or a file, and verifies an export against
 * signed checkpoints with the public JWKS only.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventHash, genesisHash, type AuditEvent } from "../../src/ledger/audit-chain.js";
import { signCheckpoint } from "../../src/ledger/audit-checkpoint.js";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/keyring.js";

const run = promisify(execFile);

async function taskward(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // umask 022 is what most shells run with: files would be world-readable unless the CLI says otherwise.
    const { stdout, stderr } = await run("/bin/sh", ["-c", 'umask 022; exec "$0" "$@"', process.execPath, "bin/taskward.mjs", ...args], {
      env: { ...process.env, TASKWARD_URL: "", TASKWARD_ADMIN_TOKEN: "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
const tempDir = () => mkdtemp(join(tmpdir(), "taskward-secrets-"));

function chain(tenant: string, count: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = genesisHash(tenant);
  for (let seq = 1; seq <= count; seq++) {
    const event = { seq, at: 1000 + seq, last_at: 1000 + seq, count: 1, type: "allowed", jti: "j1", op: "get", client_id: "c", subject: "s", reason: null, detail: null, prev_hash: prev } as const;
    const hash = eventHash(event);
    events.push({ ...event, hash });
    prev = hash;
  }
  return events;
}

const ADMIN_TOKEN = "cli-secret-admin-token";
let server: Server;
let url: string;
const seenTokens: string[] = [];

beforeAll(async () => {
  const events = chain("acme", 3);
  server = createServer((req, res) => {
    seenTokens.push(req.headers.authorization ?? "");
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "admin_unauthorized" }));
    }
    if (req.url?.startsWith("/admin/tenants/acme/audit/checkpoint")) {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "not_found" }));
    }
    if (req.url?.startsWith("/admin/tenants/acme/audit")) {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      return res.end(events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("CLI secrets", () => {
  it("keys generate --out writes the private signing document with mode 0600", async () => {
    const path = join(await tempDir(), "signing.json");
    const result = await taskward(["keys", "generate", "--out", path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(await modeOf(path)).toBe(0o600);
    expect((await loadKeyRing(await readFile(path, "utf8"))).signing.alg).toBe("EdDSA");
  });

  it("audit export --out writes the export with mode 0600", async () => {
    const path = join(await tempDir(), "audit.ndjson");
    const result = await taskward(["audit", "export", "--url", url, "--tenant", "acme", "--out", path], { TASKWARD_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(result.code, result.stderr).toBe(0);
    expect(await modeOf(path)).toBe(0o600);
    expect((await readFile(path, "utf8")).split("\n").filter(Boolean)).toHaveLength(4);
  });

  it("takes the admin token from --admin-token-file, and warns when it is given on the command line", async () => {
    const dir = await tempDir();
    const tokenFile = join(dir, "admin-token");
    await writeFile(tokenFile, `${ADMIN_TOKEN}\n`, { mode: 0o600 });
    const fromFile = await taskward(["audit", "verify", "--url", url, "--tenant", "acme", "--admin-token-file", tokenFile]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(seenTokens.at(-1)).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(fromFile.stderr).not.toContain("warning");
    const fromArgv = await taskward(["audit", "verify", "--url", url, "--tenant", "acme", "--admin-token", ADMIN_TOKEN]);
    expect(fromArgv.code).toBe(0);
    expect(fromArgv.stderr).toContain("warning: --admin-token puts the token in process lists and shell history");
    const missing = await taskward(["audit", "verify", "--url", url, "--tenant", "acme"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("set TASKWARD_ADMIN_TOKEN or pass --admin-token-file FILE");
  });
});

describe("offline audit verification against signed checkpoints", () => {
  async function anchoredExport(withCheckpoint: "signed" | "none" | "foreign"): Promise<{ file: string; jwksFile: string }> {
    const dir = await tempDir();
    const ring = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const other = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const events = chain("acme", 6);
    const cut = events[2]!; // events 1-3 removed by retention; the chain restarts after seq 3
    const checkpoints =
      withCheckpoint === "none" ? [] : [await signCheckpoint({ tenant: "acme", seq: cut.seq, hash: cut.hash, reason: "retention" }, withCheckpoint === "signed" ? ring : other, "https://tw.example")];
    const file = join(dir, "audit.ndjson");
    const header = { taskward_audit: 1, tenant: "acme", anchor: `${cut.seq}:${cut.hash}`, checkpoints };
    await writeFile(file, [JSON.stringify(header), ...events.slice(3).map((e) => JSON.stringify(e))].join("\n") + "\n");
    const jwksFile = join(dir, "jwks.json");
    await writeFile(jwksFile, JSON.stringify(ring.publicJwks));
    return { file, jwksFile };
  }

  it("accepts an anchor signed by a checkpoint under the published keys", async () => {
    const { file, jwksFile } = await anchoredExport("signed");
    const result = await taskward(["audit", "verify", "--file", file, "--jwks", jwksFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: true, events: 3, checkpoints: 1 });
  });

  it("refuses an anchor with no signed checkpoint, or one signed by another key", async () => {
    for (const kind of ["none", "foreign"] as const) {
      const { file, jwksFile } = await anchoredExport(kind);
      const result = await taskward(["audit", "verify", "--file", file, "--jwks", jwksFile]);
      expect(result.code, kind).toBe(1);
      expect(result.stderr, kind).toContain("BROKEN");
    }
    const { file } = await anchoredExport("none");
    expect((await taskward(["audit", "verify", "--file", file])).code).toBe(2);
  });
});
