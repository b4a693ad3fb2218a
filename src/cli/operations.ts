import { readFile } from "node:fs/promises";
import type { JSONWebKeySet } from "jose";
import type { AuditEvent } from "../ledger/audit-chain.js";
import { verifyAgainstCheckpoints } from "../ledger/audit-checkpoint.js";
import { RemoteError, UsageError, type CommandOutput } from "./output.js";
import { adminRequest, baseUrl, expectJson, request, type RemoteOptions } from "./remote.js";
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
  anchor: string | null;
  /** Signed checkpoints: the one over the anchor (if any) and one over the head, taken first. */
  checkpoints: string[];
}

/**
 * Downloads the whole audit chain of a tenant, page by page. A signed checkpoint of the head is
 * taken before the first page, so every export can be checked offline against it.
 */
async function fetchAudit(options: Options, tenant: string, format = "chain"): Promise<FetchedAudit> {
  const path = `/admin/tenants/${encodeURIComponent(tenant)}/audit`;
  const checkpoints: string[] = [];
  const head = await adminRequest(options, `${path}/checkpoint`);
  if (head.status === 200) checkpoints.push(String((await expectJson(head)).checkpoint));
  else if (head.status !== 404) throw new RemoteError(`HTTP ${head.status}: ${await head.text()}`);
  const lines: string[] = [];
  let anchor: string | null = null;
  let after = 0;
  for (;;) {
    const response = await adminRequest(options, `${path}?after=${after}&limit=5000&format=${format}`);
    if (response.status !== 200) throw new RemoteError(`HTTP ${response.status}: ${await response.text()}`);
    anchor = response.headers.get("audit-anchor");
    const anchorCheckpoint = response.headers.get("audit-anchor-checkpoint");
    if (anchorCheckpoint && !checkpoints.includes(anchorCheckpoint)) checkpoints.unshift(anchorCheckpoint);
    const page = (await response.text()).split("\n").filter(Boolean);
    lines.push(...page);
    const next = response.headers.get("audit-next-cursor");
    if (!next) return { lines, anchor, checkpoints };
    after = Number(next);
  }
}

/**
 * `audit export`: NDJSON to --out (0600) or stdout. The chain format starts with a header naming
 * tenant, anchor and signed checkpoints (for `audit verify`); OCSF is one OCSF event per line, as
 * SIEMs ingest it.
 */
export async function exportAudit(options: Options): Promise<CommandOutput> {
  const tenant = required(options, "tenant");
  const format = text(options, "format") ?? "chain";
  if (format !== "chain" && format !== "ocsf") throw new UsageError(`--format must be chain or ocsf, got ${format}`);
  const { lines, anchor, checkpoints } = await fetchAudit(options, tenant, format);
  const header = JSON.stringify({ taskward_audit: 1, tenant, anchor, checkpoints });
  const document = [...(format === "chain" ? [header] : []), ...lines].join("\n") + "\n";
  const out = text(options, "out");
  if (out) {
    await writePrivateFile(out, document);
    return { stderr: `${lines.length} events written to ${out} (mode 0600)` };
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

/** Checkpoints kept from earlier (--checkpoint FILE, repeatable): a JWS, or the JSON the checkpoint endpoint answers. */
async function keptCheckpoints(options: Options): Promise<string[]> {
  const files = options.checkpoint === undefined ? [] : Array.isArray(options.checkpoint) ? options.checkpoint : [String(options.checkpoint)];
  const kept: string[] = [];
  for (const file of files) {
    const content = (await readFile(file, "utf8")).trim();
    kept.push(content.startsWith("{") ? String((JSON.parse(content) as { checkpoint?: unknown }).checkpoint) : content);
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
  let fetched: FetchedAudit;
  const file = text(options, "file");
  if (file) {
    const [headerLine, ...rest] = (await readFile(file, "utf8")).split("\n").filter(Boolean);
    const header = JSON.parse(headerLine ?? "{}") as { taskward_audit?: number; tenant?: string; anchor?: string | null; checkpoints?: string[] };
    if (header.taskward_audit !== 1 || !header.tenant) throw new UsageError(`${file} is not a taskward audit export (first line must be its header)`);
    tenant = header.tenant;
    fetched = { lines: rest, anchor: header.anchor ?? null, checkpoints: header.checkpoints ?? [] };
  } else {
    tenant = required(options, "tenant");
    fetched = await fetchAudit(options, tenant);
  }
  const events = fetched.lines.map((line) => JSON.parse(line) as AuditEvent);
  const [anchorSeq, anchorHash] = fetched.anchor ? fetched.anchor.split(":") : [];
  const anchor = fetched.anchor ? { seq: Number(anchorSeq), prevHash: anchorHash! } : null;
  const checkpoints = [...fetched.checkpoints, ...(await keptCheckpoints(options))];
  const needsKeys = anchor !== null || checkpoints.length > 0;
  const jwks = needsKeys ? await publicJwks(options) : undefined;
  if (!jwks && needsKeys) {
    throw new UsageError("this export has an anchor or checkpoints: give the authority's public keys with --jwks FILE (or --url)");
  }
  const result = await verifyAgainstCheckpoints(tenant, events, anchor, checkpoints, jwks ?? { keys: [] });
  if (result.valid) return { stdout: JSON.stringify({ tenant, ...result }), stderr: `audit chain of ${tenant} verifies: ${result.events} events, ${result.checkpoints} signed checkpoints` };
  return { stdout: JSON.stringify({ tenant, ...result }), stderr: `audit chain of ${tenant} is BROKEN at seq ${result.brokenAt}: ${result.problem}`, exitCode: 1 };
}

/** `audit checkpoint`: a signed checkpoint of the chain head now, to --out (0600) or stdout; keep it to verify later exports. */
export async function auditCheckpoint(options: Options): Promise<CommandOutput> {
  const tenant = required(options, "tenant");
  const body = await expectJson(await adminRequest(options, `/admin/tenants/${encodeURIComponent(tenant)}/audit/checkpoint`));
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
