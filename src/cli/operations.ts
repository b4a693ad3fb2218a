import { readFile } from "node:fs/promises";
import type { JSONWebKeySet } from "jose";
import type { AuditEvent } from "../ledger/audit-chain.js";
import { verifyAgainstCheckpoints } from "../ledger/audit-checkpoint.js";
import { RemoteError, UsageError, type CommandOutput } from "./output.js";
import { adminRequest, baseUrl, expectJson, request, serverMessage, type RemoteOptions } from "./remote.js";
import { writePrivateFile } from "./secret-files.js";

type Options = RemoteOptions & Record<string, string | string[] | boolean | undefined>;

function text(options: Options, name: string): string | undefined {
  const value = options[name];
  return typeof value === "string" ? value : undefined;
}

function required(options: Options, name: string): string {
  const value = text(options, name);
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

/** `revoke`: one handle, one task, or everything of a client, subject or tenant. */
export async function revoke(options: Options): Promise<CommandOutput> {
  const reason = text(options, "reason");
  const handle = text(options, "handle");
  let body: Record<string, unknown>;
  if (handle) body = { handle };
  else {
    const tenant = required(options, "tenant");
    const targets = ["jti", "task", "client", "sub"].filter((name) => text(options, name) !== undefined);
    if (options.all) targets.push("all");
    if (targets.length !== 1) throw new UsageError("give exactly one of --handle, --jti, --task, --client, --sub, --all (with --tenant)");
    const target = targets[0]!;
    body = target === "all" ? { tenant, scope: "tenant" } : { tenant, [target === "client" ? "client_id" : target]: text(options, target) };
  }
  if (reason) body.reason = reason;
  if (options.cancel) body.cancel = true;
  const response = await adminRequest(options, "/admin/revocations", { method: "POST", body });
  if (response.status === 404) return { stderr: "nothing to revoke: no live handle matched", exitCode: 1 };
  // A ledger shard that could not be reached: the authority reports nothing revoked; say so plainly.
  if (response.status === 503) {
    const refused = await response.text();
    return { stdout: refused, stderr: `NOT REVOKED (HTTP 503, retryable): ${serverMessage(refused)}. Run the same command again.`, exitCode: 1 };
  }
  const result = await expectJson(response);
  if (!options.cancel) return { stdout: JSON.stringify(result), stderr: "revoked; effective for the very next request" };
  // A bulk cancel comes in bounded batches: follow the cursor until every covered task was asked.
  const cancellations = [...(result.cancellations as unknown[])];
  for (let cursor = result.cancel_cursor as string | null; cursor; ) {
    const page = await expectJson(await adminRequest(options, "/admin/revocations", { method: "POST", body: { ...body, cursor } }));
    cancellations.push(...(page.cancellations as unknown[]));
    cursor = page.cancel_cursor as string | null;
  }
  const failed = cancellations.filter((c) => (c as { outcome: string }).outcome !== "cancelled" && (c as { outcome: string }).outcome !== "already_terminal").length;
  return {
    stdout: JSON.stringify({ ...result, cancellations, cancel_cursor: null }),
    stderr: `revoked; cancel sent for ${cancellations.length} in-flight task(s)${failed ? `, ${failed} not confirmed by the origin` : ""}`,
    exitCode: failed ? 1 : 0,
  };
}

/** `tasks`: the tenant's handles, newest first. */
export async function listTasks(options: Options): Promise<CommandOutput> {
  const tenant = required(options, "tenant");
  const query = new URLSearchParams();
  for (const [flag, param] of [["client", "client_id"], ["sub", "sub"], ["limit", "limit"]] as const) {
    const value = text(options, flag);
    if (value) query.set(param, value);
  }
  const body = await expectJson(await adminRequest(options, `/admin/tenants/${encodeURIComponent(tenant)}/tasks?${query}`));
  if (options.json) return { stdout: JSON.stringify(body.tasks) };
  const lines = (body.tasks as Array<Record<string, any>>).map((t) =>
    [t.jti, t.tool, t.clientId, t.subject, t.status, new Date(t.expiresAt).toISOString(), t.revokedAt ? `revoked:${t.revokeReason}` : "live"].join("\t"),
  );
  return { stdout: ["jti\ttool\tclient\tsubject\tstatus\texpires\tstate", ...lines].join("\n") };
}

interface FetchedAudit {
  lines: string[];
  /** The ledger shard whose chain this is, and how many the tenant has (each keeps its own chain). */
  shard: number;
  shards: number;
  anchor: string | null;
  /** Signed checkpoints: the one over the anchor (if any) and one over the head, taken first. */
  checkpoints: string[];
}

/**
 * Downloads the whole audit chain of a tenant, page by page. A signed checkpoint of the head is
 * taken before the first page, so every export can be checked offline against it.
 */
async function fetchAudit(options: Options, tenant: string, format = "chain", shard = 0): Promise<FetchedAudit> {
  const path = `/admin/tenants/${encodeURIComponent(tenant)}/audit`;
  const checkpoints: string[] = [];
  const head = await adminRequest(options, `${path}/checkpoint?shard=${shard}`);
  if (head.status === 200) checkpoints.push(String((await expectJson(head)).checkpoint));
  else if (head.status !== 404) throw new RemoteError(`HTTP ${head.status}: ${await head.text()}`);
  const lines: string[] = [];
  let anchor: string | null = null;
  let after = 0;
  for (;;) {
    const response = await adminRequest(options, `${path}?after=${after}&limit=5000&format=${format}&shard=${shard}`);
    if (response.status !== 200) throw new RemoteError(`HTTP ${response.status}: ${await response.text()}`);
    anchor = response.headers.get("audit-anchor");
    const anchorCheckpoint = response.headers.get("audit-anchor-checkpoint");
    if (anchorCheckpoint && !checkpoints.includes(anchorCheckpoint)) checkpoints.unshift(anchorCheckpoint);
    const page = (await response.text()).split("\n").filter(Boolean);
    lines.push(...page);
    const next = response.headers.get("audit-next-cursor");
    // An authority from before sharding sends no audit-shards header: one chain.
    if (!next) return { lines, shard, shards: Number(response.headers.get("audit-shards") ?? "1"), anchor, checkpoints };
    after = Number(next);
  }
}

/** Every shard's chain of a tenant: shard 0 first, which says how many there are. */
async function fetchEveryShard(options: Options, tenant: string, format = "chain"): Promise<FetchedAudit[]> {
  const first = await fetchAudit(options, tenant, format, 0);
  const rest = await Promise.all(Array.from({ length: first.shards - 1 }, (_, index) => fetchAudit(options, tenant, format, index + 1)));
  return [first, ...rest];
}

/** The header line of one shard's section of a chain export (shard fields only when the tenant has several). */
function sectionHeader(tenant: string, audit: FetchedAudit): string {
  return JSON.stringify({ taskward_audit: 1, tenant, ...(audit.shards > 1 ? { shard: audit.shard, shards: audit.shards } : {}), anchor: audit.anchor, checkpoints: audit.checkpoints });
}

/**
 * `audit export`: NDJSON to --out (0600) or stdout. The chain format has one section per ledger
 * shard, each starting with a header naming tenant, shard, anchor and signed checkpoints (for
 * `audit verify`); OCSF is one OCSF event per line, as SIEMs ingest it.
 */
export async function exportAudit(options: Options): Promise<CommandOutput> {
  const tenant = required(options, "tenant");
  const format = text(options, "format") ?? "chain";
  if (format !== "chain" && format !== "ocsf") throw new UsageError(`--format must be chain or ocsf, got ${format}`);
  const audits = await fetchEveryShard(options, tenant, format);
  const document = audits.flatMap((audit) => [...(format === "chain" ? [sectionHeader(tenant, audit)] : []), ...audit.lines]).join("\n") + "\n";
  const count = audits.reduce((sum, audit) => sum + audit.lines.length, 0);
  const out = text(options, "out");
  if (out) {
    await writePrivateFile(out, document);
    return { stderr: `${count} events of ${audits.length} shard chain(s) written to ${out} (mode 0600)` };
  }
  return { stdout: document.trimEnd() };
}

/** The public JWKS checkpoints are verified with: --jwks FILE, or the authority's /.well-known/jwks.json. */
async function publicJwks(options: Options): Promise<JSONWebKeySet | undefined> {
  const file = text(options, "jwks");
  if (file) return JSON.parse(await readFile(file, "utf8")) as JSONWebKeySet;
  if (!options.url && !process.env.TASKWARD_URL) return undefined;
  return (await expectJson(await request(`${baseUrl(options)}/.well-known/jwks.json`, { method: "GET" }))) as unknown as JSONWebKeySet;
}

/**
 * Checkpoints kept from earlier (--checkpoint FILE, repeatable): a JWS (of shard 0's chain), or the
 * JSON the checkpoint endpoint answers, which names its shard.
 */
async function keptCheckpoints(options: Options): Promise<Array<{ jws: string; shard: number }>> {
  const files = options.checkpoint === undefined ? [] : Array.isArray(options.checkpoint) ? options.checkpoint : [String(options.checkpoint)];
  const kept: Array<{ jws: string; shard: number }> = [];
  for (const file of files) {
    const content = (await readFile(file, "utf8")).trim();
    const answer = content.startsWith("{") ? (JSON.parse(content) as { checkpoint?: unknown; shard?: unknown }) : undefined;
    kept.push(answer ? { jws: String(answer.checkpoint), shard: typeof answer.shard === "number" ? answer.shard : 0 } : { jws: content, shard: 0 });
  }
  return kept;
}

/**
 * `audit verify`: re-computes the hash chain of an export (--file) or straight from the server,
 * and checks it against every signed checkpoint (the export's own and --checkpoint files) with
 * the public JWKS (--jwks FILE, or fetched from --url). An anchor counts only when signed.
 */
export async function verifyAudit(options: Options): Promise<CommandOutput> {
  let tenant: string;
  let audits: FetchedAudit[];
  const file = text(options, "file");
  if (file) ({ tenant, audits } = readExportSections(file, await readFile(file, "utf8")));
  else {
    tenant = required(options, "tenant");
    audits = await fetchEveryShard(options, tenant);
  }
  const kept = await keptCheckpoints(options);
  const needsKeys = audits.some((audit) => audit.anchor !== null || audit.checkpoints.length > 0) || kept.length > 0;
  const jwks = needsKeys ? await publicJwks(options) : undefined;
  if (!jwks && needsKeys) {
    throw new UsageError("this export has an anchor or checkpoints: give the authority's public keys with --jwks FILE (or --url)");
  }
  const shards = audits[0]!.shards;
  const results = [];
  for (const audit of audits) {
    const events = audit.lines.map((line) => JSON.parse(line) as AuditEvent);
    const [anchorSeq, anchorHash] = audit.anchor ? audit.anchor.split(":") : [];
    const anchor = audit.anchor ? { seq: Number(anchorSeq), prevHash: anchorHash! } : null;
    // A kept checkpoint signs one shard's chain: it is checked against that chain.
    const checkpoints = [...audit.checkpoints, ...kept.filter((k) => k.shard === audit.shard).map((k) => k.jws)];
    results.push({ shard: audit.shard, ...(await verifyAgainstCheckpoints(tenant, events, anchor, checkpoints, jwks ?? { keys: [] })) });
  }
  if (shards === 1) {
    const { shard: _shard, ...result } = results[0]!;
    if (result.valid) return { stdout: JSON.stringify({ tenant, ...result }), stderr: `audit chain of ${tenant} verifies: ${result.events} events, ${result.checkpoints} signed checkpoints` };
    return { stdout: JSON.stringify({ tenant, ...result }), stderr: `audit chain of ${tenant} is BROKEN at seq ${result.brokenAt}: ${result.problem}`, exitCode: 1 };
  }
  const missing = Array.from({ length: shards }, (_, shard) => shard).filter((shard) => !audits.some((audit) => audit.shard === shard));
  const valid = missing.length === 0 && results.every((result) => result.valid);
  const lines = results.map((r) =>
    r.valid ? `audit chain of ${tenant} shard ${r.shard} verifies: ${r.events} events, ${r.checkpoints} signed checkpoints` : `audit chain of ${tenant} shard ${r.shard} is BROKEN at seq ${r.brokenAt}: ${r.problem}`,
  );
  for (const shard of missing) lines.push(`audit chain of ${tenant} shard ${shard} is MISSING from the export`);
  const summary = {
    tenant,
    valid,
    events: results.reduce((sum, r) => sum + r.events, 0),
    checkpoints: results.reduce((sum, r) => sum + r.checkpoints, 0),
    shards: results,
    ...(missing.length > 0 ? { missingShards: missing } : {}),
  };
  return { stdout: JSON.stringify(summary), stderr: lines.join("\n"), ...(valid ? {} : { exitCode: 1 }) };
}

/** The sections of a chain export: each starts with a header line (`taskward_audit`), one per shard. */
function readExportSections(file: string, content: string): { tenant: string; audits: FetchedAudit[] } {
  const lines = content.split("\n").filter(Boolean);
  const audits: FetchedAudit[] = [];
  let tenant: string | undefined;
  for (const line of lines) {
    const parsed = JSON.parse(line) as { taskward_audit?: number; tenant?: string; shard?: number; shards?: number; anchor?: string | null; checkpoints?: string[] };
    if (parsed.taskward_audit !== undefined) {
      if (parsed.taskward_audit !== 1 || !parsed.tenant || (tenant !== undefined && parsed.tenant !== tenant)) throw new UsageError(`${file} is not a taskward audit export of one tenant (bad header: ${line.slice(0, 200)})`);
      tenant = parsed.tenant;
      audits.push({ lines: [], shard: parsed.shard ?? 0, shards: parsed.shards ?? 1, anchor: parsed.anchor ?? null, checkpoints: parsed.checkpoints ?? [] });
    } else if (audits.length === 0) throw new UsageError(`${file} is not a taskward audit export (first line must be its header)`);
    else audits.at(-1)!.lines.push(line);
  }
  if (!tenant) throw new UsageError(`${file} is not a taskward audit export (first line must be its header)`);
  return { tenant, audits };
}

/** `audit checkpoint`: a signed checkpoint of the chain head now, to --out (0600) or stdout; keep it to verify later exports. */
export async function auditCheckpoint(options: Options): Promise<CommandOutput> {
  const tenant = required(options, "tenant");
  const shard = text(options, "shard") ?? "0";
  const body = await expectJson(await adminRequest(options, `/admin/tenants/${encodeURIComponent(tenant)}/audit/checkpoint?shard=${encodeURIComponent(shard)}`));
  const out = text(options, "out");
  if (!out) return { stdout: JSON.stringify(body) };
  await writePrivateFile(out, JSON.stringify(body));
  return { stderr: `checkpoint of ${tenant} at seq ${body.seq} written to ${out} (mode 0600)` };
}

/** `dev-token`: a bearer token from a dev-mode authority. */
export async function devToken(options: Options): Promise<CommandOutput> {
  const url = text(options, "url") ?? process.env.TASKWARD_URL;
  if (!url) throw new UsageError("--url (or TASKWARD_URL) is required");
  const body = { tenant: required(options, "tenant"), client_id: required(options, "client"), sub: required(options, "sub") };
  const reply = await expectJson(await request(`${url.replace(/\/$/, "")}/dev/token`, { method: "POST", body }));
  return { stdout: String(reply.access_token) };
}

/** `operator-token`: an operator token from a dev-mode authority (production tokens come from your OAuth server). */
export async function devOperatorToken(options: Options): Promise<CommandOutput> {
  const url = text(options, "url") ?? process.env.TASKWARD_URL;
  if (!url) throw new UsageError("--url (or TASKWARD_URL) is required");
  const tenants = required(options, "tenants");
  const body = { sub: required(options, "sub"), roles: required(options, "roles").split(","), tenants: tenants === "*" ? "*" : tenants.split(",") };
  const reply = await expectJson(await request(`${url.replace(/\/$/, "")}/dev/operator-token`, { method: "POST", body }));
  return { stdout: String(reply.access_token) };
}
