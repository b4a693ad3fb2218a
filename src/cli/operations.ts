import { readFile, writeFile } from "node:fs/promises";
import { verifyChain, type AuditEvent } from "../ledger/audit-chain.js";
import { RemoteError, UsageError, type CommandOutput } from "./output.js";
import { adminRequest, expectJson, request, type RemoteOptions } from "./remote.js";

type Options = RemoteOptions & Record<string, string | boolean | undefined>;

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

/** Downloads the whole audit chain of a tenant, page by page. */
async function fetchAudit(options: Options, tenant: string, format = "chain"): Promise<{ lines: string[]; anchor: string | null }> {
  const lines: string[] = [];
  let anchor: string | null = null;
  let after = 0;
  for (;;) {
    const response = await adminRequest(options, `/admin/tenants/${encodeURIComponent(tenant)}/audit?after=${after}&limit=5000&format=${format}`);
    if (response.status !== 200) throw new RemoteError(`HTTP ${response.status}: ${await response.text()}`);
    anchor = response.headers.get("audit-anchor");
    const page = (await response.text()).split("\n").filter(Boolean);
    lines.push(...page);
    const next = response.headers.get("audit-next-cursor");
    if (!next) return { lines, anchor };
    after = Number(next);
  }
}

/**
 * `audit export`: NDJSON to --out or stdout. The chain format starts with a header naming tenant
 * and anchor (for `audit verify`); OCSF is one OCSF event per line, as SIEMs ingest it.
 */
export async function exportAudit(options: Options): Promise<CommandOutput> {
  const tenant = required(options, "tenant");
  const format = text(options, "format") ?? "chain";
  if (format !== "chain" && format !== "ocsf") throw new UsageError(`--format must be chain or ocsf, got ${format}`);
  const { lines, anchor } = await fetchAudit(options, tenant, format);
  const header = JSON.stringify({ taskward_audit: 1, tenant, anchor });
  const document = [...(format === "chain" ? [header] : []), ...lines].join("\n") + "\n";
  const out = text(options, "out");
  if (out) {
    await writeFile(out, document);
    return { stderr: `${lines.length} events written to ${out}` };
  }
  return { stdout: document.trimEnd() };
}

/** `audit verify`: re-computes the hash chain of an export (--file) or straight from the server. */
export async function verifyAudit(options: Options): Promise<CommandOutput> {
  let tenant: string;
  let anchor: string | null;
  let lines: string[];
  const file = text(options, "file");
  if (file) {
    const [headerLine, ...rest] = (await readFile(file, "utf8")).split("\n").filter(Boolean);
    const header = JSON.parse(headerLine ?? "{}") as { taskward_audit?: number; tenant?: string; anchor?: string | null };
    if (header.taskward_audit !== 1 || !header.tenant) throw new UsageError(`${file} is not a taskward audit export (first line must be its header)`);
    tenant = header.tenant;
    anchor = header.anchor ?? null;
    lines = rest;
  } else {
    tenant = required(options, "tenant");
    ({ lines, anchor } = await fetchAudit(options, tenant));
  }
  const events = lines.map((line) => JSON.parse(line) as AuditEvent);
  const [anchorSeq, anchorHash] = anchor ? anchor.split(":") : [];
  const result = anchor ? verifyChain(tenant, events, anchorHash, Number(anchorSeq)) : verifyChain(tenant, events);
  if (result.valid) return { stdout: JSON.stringify({ tenant, ...result }), stderr: `audit chain of ${tenant} verifies: ${result.events} events` };
  return { stdout: JSON.stringify({ tenant, ...result }), stderr: `audit chain of ${tenant} is BROKEN at seq ${result.brokenAt}: ${result.problem}`, exitCode: 1 };
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
