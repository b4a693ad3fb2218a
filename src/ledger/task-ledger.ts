import { DurableObject } from "cloudflare:workers";
import type { TaskOp } from "../handle/claims.js";
import type { BindableField } from "../policy/task-policy.js";
import { configFor, type WorkerEnv } from "../config.js";
import { equalInConstantTime } from "../constant-time.js";
import type { AuditEvent } from "./audit-chain.js";
import { AuditLog, type AuditAnchor } from "./audit-log.js";
import { signCheckpoint, verifyAgainstCheckpoints, type ExportVerification } from "./audit-checkpoint.js";
import { RateLimiter } from "./rate-limiter.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { LEDGER_ADDED_COLUMNS, LEDGER_SCHEMA } from "./schema.js";
import { rulesInForce, type RulesInForce } from "../policy/task-policy.js";
import { AuditShipper } from "../siem/audit-shipper.js";
import { originWithAudience } from "../origins/index.js";
import { shardOfObjectName } from "./shards.js";
import {
  TERMINAL_STATUSES,
  type ApiKeyRecord,
  type AuthorizeExtras,
  type CancelOutcome,
  type CancelSelector,
  type InFlightTask,
  type Decision,
  type DenialReason,
  type IssueRecord,
  type LedgerLimits,
  type LedgerPrincipal,
  type OwnedHandle,
  type RevocationScope,
  type RevocationTarget,
  type TaskRecord,
} from "./types.js";

interface TaskRow extends Record<string, SqlStorageValue> {
  jti: string;
  task_id: string;
  handle: string;
  client_id: string;
  subject: string;
  tool: string;
  ops: string;
  mcp: string;
  bind: string;
  max_auth_age: number | null;
  step_up_ops: string;
  status: string;
  issued_at: number;
  expires_at: number;
  delivered_at: number | null;
  revoked_at: number | null;
  revoke_reason: string | null;
  parent: string | null;
  actor: string | null;
  origin_handle: string | null;
  session_key: string | null;
  audience: string | null;
}

interface ApiKeyRow extends Record<string, SqlStorageValue> {
  id: string;
  secret_sha256: string;
  client_id: string;
  subject: string;
  label: string | null;
  created_at: number;
  revoked_at: number | null;
}

/** Expired rows are kept this long past expiry so late follow-ups still meet an audited "expired". */
const PURGE_GRACE_MS = 60 * 60 * 1000;
/** A failed push to the SIEM queue is retried by the alarm this much later. */
const SHIP_RETRY_MS = 30_000;
/** Audit writes within this window go to the SIEM queue in one push, however fast clients poll. */
const SHIP_COALESCE_MS = 1_000;
/** Spent DPoP proofs past their window are deleted at most this often (see pruneSpentProofs). */
const PROOF_PRUNE_MS = 60_000;
/** Longest delegation chain followed when checking ancestors. */
const MAX_DELEGATION_DEPTH = 8;

function splitList<T extends string>(value: string): T[] {
  return value.split(",").filter(Boolean) as T[];
}

function toRecord(row: TaskRow): TaskRecord {
  return {
    jti: row.jti,
    taskId: row.task_id,
    clientId: row.client_id,
    subject: row.subject,
    tool: row.tool,
    ops: splitList<TaskOp>(row.ops),
    mcp: row.mcp,
    bind: splitList<BindableField>(row.bind),
    status: row.status,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    deliveredAt: row.delivered_at,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
    parent: row.parent,
    actor: row.actor,
  };
}

/** Rate-limit key of a caller: its tenant is part of it, so a same-named caller of another tenant has its own budget. */
function principalKey(principal: LedgerPrincipal): string {
  // The default origin keeps the key it always had; each other origin counts apart.
  const key = `${principal.tenant}\u0000${principal.clientId}\u0000${principal.subject}`;
  return principal.origin === undefined ? key : `${key}\u0000${principal.origin}`;
}

/** The span a refusal folds into: one per caller (tenant included), reason and window. */
function refusalSpanKey(principal: LedgerPrincipal, reason: string): string {
  return `denied\u0000${reason}\u0000${principalKey(principal)}`;
}

/**
 * One tenant's task handles, revocations, API keys and audit chain (one object per tenant
 * shard, named by the tenant id and the shard: src/ledger/shards.ts). Every public method runs synchronously against SQLite (nothing
 * interleaves), and writes that belong together commit in one transaction, so a decision and its
 * audit event commit together and the chain stays in order.
 */
export class TaskLedger extends DurableObject<WorkerEnv> {
  private readonly sql: SqlStorage;
  private readonly audit: AuditLog;
  private readonly creations: RateLimiter;
  private readonly refusals: RateLimiter;
  /** Whether this object has its tables: a ledger is created by its first write, never by a read. */
  private hasSchema: boolean;
  /** Handle and caller pairs whose withheld payload is already audited (see recordWithheld). */
  private readonly withheldRecorded = new Set<string>();
  private boundTenant: string | undefined;
  private watermarks: Array<{ scope: string; value: string; issued_before: number }> | undefined;
  private shipper: AuditShipper | null | undefined;
  private shipScheduled = false;
  private nextProofPrune = 0;

  constructor(ctx: DurableObjectState, env: WorkerEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.hasSchema = this.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).toArray().length > 0;
    // Existing ledgers get tables and columns added since they were created; new ones wait for their first write.
    if (this.hasSchema) this.applySchema();
    this.audit = new AuditLog(this.sql, () => this.tenantOf(), () => this.shipAuditSoon(), (write) => this.ctx.storage.transactionSync(write));
    this.creations = new RateLimiter(this.sql, "creation");
    // Refusals below the limit are counted in memory (a restart forgets at most those); creations are written each.
    this.refusals = new RateLimiter(this.sql, "refusal", 60_000, true);
    // Catch up on whatever an evicted predecessor committed but had not pushed yet.
    if (this.hasSchema && this.storedTenant() !== undefined) this.shipAuditSoon();
  }

  /** Records a freshly minted handle (and, for a delegated one, the delegation) with its audit event. */
  issue(tenant: string, record: IssueRecord): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      this.sql.exec(
        `INSERT INTO tasks (jti, task_id, handle, origin_handle, client_id, subject, tool, ops, mcp, bind, max_auth_age, step_up_ops, status, issued_at, expires_at, parent, actor, session_key, audience)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        record.jti, record.taskId, record.handle, record.originHandle, record.principal.clientId, record.principal.subject, record.tool,
        record.ops.join(","), record.mcp, record.bind.join(","), record.maxAuthAgeSeconds ?? null, record.stepUpOps.join(","),
        record.status, record.issuedAt, record.expiresAt, record.parent ?? null, record.actor ?? null, record.session ?? null, record.audience ?? null,
      );
      if (record.originSession) this.sql.exec(`INSERT OR IGNORE INTO task_sessions (task_id, session_id) VALUES (?, ?)`, record.taskId, record.originSession);
      this.audit.append({
        type: record.parent ? "delegated" : "issued",
        jti: record.jti,
        principal: record.principal,
        reason: record.parent ? `parent:${record.parent}` : null,
        detail: {
          task: record.taskId,
          tool: record.tool,
          ops: record.ops,
          exp: record.expiresAt,
          mcp: record.mcp,
          ...(record.actor ? { actor: record.actor } : {}),
          ...(record.act ? { act: record.act } : {}),
          ...(record.session && record.bind.includes("session") ? { sessionBound: true } : {}),
          ...(record.txn ? { txn: record.txn } : {}),
          ...(record.jkt ? { jkt: record.jkt } : {}),
        },
      });
    });
    void this.scheduleAlarm(record.expiresAt + PURGE_GRACE_MS);
  }

  /**
   * Records a delegated handle when its parent is still live and the child does not widen it
   * (same task, subset of operations, no later expiry).
   */
  delegate(tenant: string, record: IssueRecord & { parent: string }): { issued: true } | { issued: false; reason: string } {
    this.bindTenant(tenant);
    const parent = this.taskRow(record.parent);
    const now = Date.now();
    if (!parent) return { issued: false, reason: "parent handle unknown" };
    if (this.ancestorRevoked(record.parent, now)) return { issued: false, reason: "the parent handle, or one it was delegated from, is revoked or expired" };
    if (record.taskId !== parent.task_id) return { issued: false, reason: "a delegated handle must name its parent's task" };
    if (record.expiresAt > parent.expires_at) return { issued: false, reason: "a delegated handle cannot outlive its parent" };
    const parentOps = splitList<TaskOp>(parent.ops);
    if (!record.ops.every((op) => parentOps.includes(op))) return { issued: false, reason: "a delegated handle cannot allow operations its parent does not" };
    this.issue(tenant, record);
    return { issued: true };
  }

  /** Whether a handle is live (RFC 7662 `active`): known, unrevoked by any means, unexpired. */
  isActive(tenant: string, jti: string): boolean {
    if (!this.readable(tenant)) return false;
    const row = this.taskRow(jti);
    if (!row) return false;
    const now = Date.now();
    // Standing only (revocation, expiry, binding): no operation, so no step-up age, is asked about.
    const asOwner = { tenant, clientId: row.client_id, subject: row.subject, session: row.session_key ?? undefined };
    return this.standingDenial(row, asOwner, tenant, now, this.rulesFor(row, undefined)) === undefined;
  }

  /**
   * Takes one creation slot for `principal` before its call is forwarded, or says how long to
   * wait. Check and count happen in one step, so concurrent creations cannot all pass a limit
   * that only some of them fit under. A call that yields no task gives its slot back.
   */
  reserveCreation(tenant: string, principal: LedgerPrincipal): { reserved: true; window: number } | { reserved: false; retryAfterSeconds: number } {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const key = principalKey(principal);
      const retryAfterSeconds = this.creations.retryAfter(key, this.limits().creationsPerMinute);
      if (retryAfterSeconds > 0) return { reserved: false as const, retryAfterSeconds };
      return { reserved: true as const, window: this.creations.record(key) };
    });
  }

  /** Gives back a slot from `reserveCreation` when the call produced no task (origin error, synchronous result). */
  releaseCreation(tenant: string, principal: LedgerPrincipal, window: number): void {
    this.bindTenant(tenant);
    this.creations.release(principalKey(principal), window);
  }

  /**
   * Decides whether `principal` may perform `op` with handle `jti`, and records the decision.
   * Rate limit, binding, revocation (direct, watermark, ancestor, after delivery), expiry,
   * operation and step-up checks all happen here, in one synchronous turn of the object.
   */
  authorize(tenant: string, jti: string, op: TaskOp, principal: LedgerPrincipal, claimedTaskId?: string, extras: AuthorizeExtras = {}): Decision {
    if (!this.servesTenant(tenant)) return { allowed: false, reason: "wrong_ledger" };
    const { rules } = extras;
    // No transaction around the decision: it is synchronous (nothing interleaves) and a repeat writes nothing, so its
    // answer waits for no commit; each write is atomic on its own (the audit log's in a transaction, the limiter's one statement).
    this.bindTenant(tenant);
    // The DPoP proof is spent in the decision's own turn: no extra round trip per follow-up.
    if (extras.proof && !this.spendProofRow(extras.proof.key, extras.proof.expiresAt)) {
      this.foldRefusal(principal, "dpop_replay", { type: "denied", jti, op, principal, reason: "dpop_replay", detail: this.callerDetail(principal, tenant) });
      this.countRefusal(principal);
      return { allowed: false, reason: "dpop_replay" };
    }
    const limited = this.refusalRetryAfter(principal);
    if (limited > 0) {
      // Beyond the limit a request costs one count in its span, never a row of its own.
      this.foldRefusal(principal, "rate_limited", { type: "denied", jti, op, principal, reason: "rate_limited", detail: this.callerDetail(principal, tenant) });
      return { allowed: false, reason: "rate_limited", retryAfterSeconds: limited };
    }
    const now = Date.now();
    const row = this.taskRow(jti);
    const inForce = row ? this.rulesFor(row, rules) : undefined;
    // A signed handle naming another task than its ledger record is forged or corrupt.
    const denial: DenialReason | undefined = !row || !inForce
      ? "unknown_handle"
      : claimedTaskId !== undefined && row.task_id !== claimedTaskId
        ? "task_mismatch"
        : (this.standingDenial(row, principal, tenant, now, inForce) ?? this.operationDenial(row, op, principal, now, inForce));
    if (denial !== undefined || !row || !inForce) {
      const reason = denial ?? "unknown_handle";
      this.foldRefusal(principal, reason, { type: "denied", jti, op, principal, reason, detail: { ...this.callerDetail(principal, tenant), ...(rules ? { policy: rules.version } : {}) } });
      if (reason === "step_up_required" && inForce) return { allowed: false, reason, maxAuthAgeSeconds: inForce.maxAuthAgeSeconds ?? 0 };
      if (reason === "revoked_after_delivery" && row?.revoked_at === null) this.ctx.storage.transactionSync(() => this.revokeRow(row, "delivered", "lifecycle", now));
      this.countRefusal(principal);
      return { allowed: false, reason: reason as Exclude<DenialReason, "step_up_required" | "rate_limited"> };
    }
    if (this.audit.appendAllowed(jti, op, principal, inForce.version, extras.txn)) this.armFlushAlarm();
    // The standing checks just passed; whether the answer may carry the result is only the operation's own.
    const resultAllowed = this.operationDenial(row, "result", principal, now, inForce) === undefined;
    return { allowed: true, taskId: row.task_id, originHandle: row.origin_handle ?? row.handle, status: row.status, tool: row.tool, resultAllowed };
  }

  /**
   * Spends a DPoP proof for a call that makes no other ledger decision: false when its key was
   * already spent (a replay). Rows go once the proof's iat window has closed, so the table holds
   * at most the proofs of one window.
   */
  spendProof(tenant: string, proofKey: string, expiresAt: number): boolean {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      return this.spendProofRow(proofKey, expiresAt);
    });
  }

  /** Records a refusal decided before the ledger could look the handle up (bad signature, …). */
  recordRefusal(tenant: string, principal: LedgerPrincipal, reason: DenialReason, detail: unknown, jti?: string): { retryAfterSeconds: number } {
    this.bindTenant(tenant);
    const withCaller = { ...(detail as object), ...this.callerDetail(principal, tenant) };
    const limited = this.refusalRetryAfter(principal);
    if (limited > 0) {
      this.foldRefusal(principal, "rate_limited", { type: "denied", jti: jti ?? null, principal, reason: "rate_limited", detail: withCaller });
      return { retryAfterSeconds: limited };
    }
    this.foldRefusal(principal, reason, { type: "denied", jti: jti ?? null, principal, reason, detail: withCaller });
    this.countRefusal(principal);
    return { retryAfterSeconds: this.refusalRetryAfter(principal) };
  }

  /**
   * Records that a task's result payload was removed from what `principal` received (status
   * without payload, operations by effect). Once per handle and caller while this object is in
   * memory: a holder polling a finished task must not grow the trail per poll, nor break the
   * folding of its polls.
   */
  recordWithheld(tenant: string, jti: string | null, principal: LedgerPrincipal, detail: unknown): void {
    const key = `${jti ?? JSON.stringify(detail)}\u0000${principalKey(principal)}`;
    if (this.withheldRecorded.has(key)) return;
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      this.audit.append({ type: "withheld", jti, op: "result", principal, reason: "result", detail });
    });
    this.withheldRecorded.add(key);
  }

  /** Updates the last status the origin reported for one of its tasks; a first terminal status is audited. */
  observeStatus(tenant: string, taskId: string, status: string): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const rows = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE task_id = ? AND status != ?`, taskId, status).toArray();
      if (rows.length === 0) return;
      this.audit.flush(); // a status change is a change: counted repeats are written before it
      this.sql.exec(`UPDATE tasks SET status = ? WHERE task_id = ?`, status, taskId);
      const root = rows.find((row) => row.parent === null) ?? rows[0]!;
      if (TERMINAL_STATUSES.has(status) && !TERMINAL_STATUSES.has(root.status)) {
        this.audit.append({ type: "terminal", jti: root.jti, reason: status });
      }
    });
  }

  /**
   * The terminal result of `jti`'s task reached its holder: after the grace period the handle is
   * revoked (lazily at the next call, or by the alarm, whichever comes first).
   */
  observeDelivery(tenant: string, jti: string): void {
    const graceMs = this.limits().deliveryGraceMs;
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const row = this.taskRow(jti);
      if (!row || row.delivered_at !== null) return;
      this.sql.exec(`UPDATE tasks SET delivered_at = ? WHERE jti = ?`, Date.now(), jti);
      this.audit.append({ type: "terminal", jti, reason: "delivered", detail: { revokeAfterMs: graceMs } });
    });
    void this.scheduleAlarm(Date.now() + graceMs);
  }

  /**
   * Handles (TTLs, statuses) of `principal`'s live tasks among `taskIds` (origin ids), for tasks/list
   * and notifications: only those minted for `origin` (rows without an audience are the default origin's).
   */
  ownedHandles(tenant: string, principal: LedgerPrincipal, taskIds: string[], origin: { audience: string; isDefault: boolean }): Record<string, OwnedHandle> {
    const owned: Record<string, OwnedHandle> = {};
    if (!this.readable(tenant)) return owned;
    const now = Date.now();
    // One query per chunk (SQLite caps bound parameters), newest handle first per task.
    for (let start = 0; start < taskIds.length; start += 90) {
      const chunk = taskIds.slice(start, start + 90);
      const rows = this.sql
        .exec<TaskRow>(`SELECT * FROM tasks WHERE task_id IN (${chunk.map(() => "?").join(",")}) ORDER BY issued_at DESC`, ...chunk)
        .toArray();
      for (const row of rows) {
        if (row.audience !== origin.audience && !(row.audience === null && origin.isDefault)) continue;
        if (owned[row.task_id] || this.standingDenial(row, principal, tenant, now, this.rulesFor(row, undefined)) !== undefined) continue;
        owned[row.task_id] = { handle: row.handle, ttlMs: Math.round((row.expires_at - row.issued_at) / 1000) * 1000, status: row.status };
      }
    }
    return owned;
  }

  /** Revokes one handle (by jti, with its delegated descendants) or every handle of one origin task. */
  revoke(tenant: string, target: RevocationTarget, reason: string, actor: string): { revoked: number } {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const now = Date.now();
      const rows =
        "jti" in target
          ? this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE jti = ? AND revoked_at IS NULL`, target.jti).toArray()
          : this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE task_id = ? AND revoked_at IS NULL`, target.taskId).toArray();
      for (const row of rows) this.revokeRow(row, reason, actor, now);
      return { revoked: rows.length };
    });
  }

  /** The session's handles that policy bound to it die with it (DELETE of a 2025-11-25 session). */
  revokeSessionHandles(tenant: string, sessionKey: string, actor: string): { revoked: number } {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const now = Date.now();
      const rows = this.sql
        .exec<TaskRow>(`SELECT * FROM tasks WHERE session_key = ? AND revoked_at IS NULL AND (',' || bind || ',') LIKE '%,session,%'`, sessionKey)
        .toArray();
      for (const row of rows) this.revokeRow(row, "session_ended", actor, now);
      return { revoked: rows.length };
    });
  }

  /** Voids every handle in scope issued until now with one watermark row: O(1) whatever the count. */
  revokeScope(tenant: string, scope: RevocationScope, reason: string, actor: string): { issuedBefore: number } {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const now = Date.now();
      const value = scope.scope === "tenant" ? "" : scope.value;
      // Strictly after every handle issued so far, including any in this very millisecond.
      const issuedBefore = now + 1;
      this.sql.exec(
        `INSERT INTO revocations (scope, value, issued_before, revoked_at, reason) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (scope, value) DO UPDATE SET issued_before = excluded.issued_before, revoked_at = excluded.revoked_at, reason = excluded.reason`,
        scope.scope, value, issuedBefore, now, reason,
      );
      this.watermarks = undefined;
      this.audit.append({ type: "revoked", reason, detail: { actor, scope: scope.scope, value: value || tenant, issuedBefore } });
      return { issuedBefore };
    });
  }

  /**
   * Unexpired, non-terminal tasks a revocation covers, one entry per origin task, oldest first,
   * after `cursor`. A scope is read from its stored watermark, so a cursor cannot widen it.
   */
  inFlightTasks(tenant: string, selector: CancelSelector, cursor: string | undefined, limit: number): { tasks: InFlightTask[]; next: string | null } {
    this.bindTenant(tenant);
    const [afterAt, afterJti] = cursor ? [Number(cursor.split(":")[0]), cursor.slice(cursor.indexOf(":") + 1)] : [0, ""];
    let where: string;
    let args: SqlStorageValue[];
    if ("jti" in selector) [where, args] = [`jti = ?`, [selector.jti]];
    else if ("taskId" in selector) [where, args] = [`task_id = ?`, [selector.taskId]];
    else {
      const value = selector.scope === "tenant" ? "" : selector.value;
      const mark = this.sql.exec<{ issued_before: number }>(`SELECT issued_before FROM revocations WHERE scope = ? AND value = ?`, selector.scope, value).toArray()[0];
      if (!mark) return { tasks: [], next: null };
      const column = selector.scope === "client" ? "client_id = ?" : selector.scope === "subject" ? "subject = ?" : "? = ''";
      [where, args] = [`${column} AND issued_at < ?`, [value, mark.issued_before]];
    }
    const terminal = [...TERMINAL_STATUSES];
    const rows = this.sql
      .exec<TaskRow & { session_id: string | null }>(
        `SELECT tasks.*, task_sessions.session_id FROM tasks LEFT JOIN task_sessions USING (task_id)
         WHERE ${where} AND status NOT IN (${terminal.map(() => "?").join(",")}) AND expires_at > ? AND (issued_at > ? OR (issued_at = ? AND jti > ?))
         ORDER BY issued_at, jti LIMIT ?`,
        ...args, ...terminal, Date.now(), afterAt, afterAt, afterJti, limit,
      )
      .toArray();
    const seen = new Set<string>();
    // The origin is shown the task's own (undelegated) handle, in its origin-facing copy: a delegated one may not allow cancel.
    const rootOf = (row: TaskRow): TaskRow =>
      row.parent === null ? row : (this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE task_id = ? AND parent IS NULL ORDER BY issued_at LIMIT 1`, row.task_id).toArray()[0] ?? row);
    const tasks = rows
      .filter((row) => !seen.has(row.task_id) && seen.add(row.task_id))
      .map((row) => {
        const root = rootOf(row);
        return { jti: row.jti, taskId: row.task_id, handleJti: root.jti, handle: root.origin_handle ?? root.handle, clientId: root.client_id, subject: root.subject, mcp: row.mcp, status: row.status, originSession: row.session_id, audience: root.audience };
      });
    const last = rows.at(-1);
    return { tasks, next: rows.length === limit && last ? `${last.issued_at}:${last.jti}` : null };
  }

  /** Audits an operator request refused for lack of a role or of this tenant's grant; nothing else changes. */
  recordOperatorRefusal(tenant: string, refusal: { actor: string; role: string; reason: string }): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      this.audit.append({ type: "denied", op: refusal.role, reason: refusal.reason, detail: { actor: refusal.actor } });
    });
  }

  /** Audits supervisory cancels on the operator's authority (one call per batch), and the statuses the origin answered. */
  recordCancels(tenant: string, outcomes: CancelOutcome[], actor: string): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      for (const outcome of outcomes) {
        const detail = { actor, task: outcome.task, ...(outcome.status ? { status: outcome.status } : {}), ...(outcome.detail ? { detail: outcome.detail } : {}) };
        this.audit.append({ type: "cancel", jti: outcome.jti, reason: outcome.outcome, detail });
      }
    });
    for (const outcome of outcomes) if (outcome.status) this.observeStatus(tenant, outcome.task, outcome.status);
  }

  task(tenant: string, jti: string): TaskRecord | null {
    if (!this.readable(tenant)) return null;
    const row = this.taskRow(jti);
    return row ? toRecord(row) : null;
  }

  /** Tasks of the tenant, newest first, filtered by principal, tool, status and issue time; cursor is the last issued_at seen. */
  tasks(tenant: string, filter: { clientId?: string; subject?: string; tool?: string; status?: string; since?: number; before?: number; limit: number }): TaskRecord[] {
    if (!this.readable(tenant)) return [];
    const rows = this.sql
      .exec<TaskRow>(
        `SELECT * FROM tasks WHERE (? IS NULL OR client_id = ?) AND (? IS NULL OR subject = ?) AND (? IS NULL OR tool = ?) AND (? IS NULL OR status = ?)
         AND issued_at >= ? AND issued_at < ? ORDER BY issued_at DESC LIMIT ?`,
        filter.clientId ?? null, filter.clientId ?? null, filter.subject ?? null, filter.subject ?? null, filter.tool ?? null, filter.tool ?? null,
        filter.status ?? null, filter.status ?? null, filter.since ?? 0, filter.before ?? Number.MAX_SAFE_INTEGER, filter.limit,
      )
      .toArray();
    return rows.map(toRecord);
  }

  /** The audit events about one handle, oldest first (a task's whole history in this tenant's chain). */
  handleHistory(tenant: string, jti: string, limit: number): AuditEvent[] {
    if (!this.readable(tenant)) return [];
    this.ctx.storage.transactionSync(() => this.writeCounts());
    return this.sql.exec<AuditEvent & Record<string, SqlStorageValue>>(`SELECT * FROM audit WHERE jti = ? ORDER BY seq LIMIT ?`, jti, limit).toArray();
  }

  /**
   * Audit events after `afterSeq`, oldest first, at most `limit`; with the anchor the chain
   * starts from and the checkpoint that signs it. Open spans are written out first, so counts
   * are complete up to now.
   */
  auditEvents(tenant: string, afterSeq = 0, limit = 1000): { events: AuditEvent[]; anchor: AuditAnchor | null; anchorCheckpoint: string | null } {
    if (!this.readable(tenant)) return { events: [], anchor: null, anchorCheckpoint: null };
    this.ctx.storage.transactionSync(() => this.writeCounts());
    const anchor = this.audit.anchor();
    return { events: this.audit.events(afterSeq, limit), anchor, anchorCheckpoint: anchor ? this.checkpointAt(anchor.seq) : null };
  }

  /** Re-computes the chain and checks it against every stored signed checkpoint (the anchor must be one). */
  async verifyAudit(tenant: string): Promise<ExportVerification & { anchor: AuditAnchor | null }> {
    if (!this.readable(tenant)) return { valid: true, events: 0, checkpoints: 0, anchor: null };
    const { events, anchor } = this.audit.chain();
    const checkpoints = this.sql.exec<{ jws: string }>(`SELECT jws FROM audit_checkpoints ORDER BY seq`).toArray().map((row) => row.jws);
    const keyRing = await signingKeyRing(configFor(this.env));
    if (!keyRing) return { valid: false, events: 0, checkpoints: 0, problem: "no keys to verify checkpoints with", anchor };
    return { ...(await verifyAgainstCheckpoints(tenant, events, anchor, checkpoints, keyRing.publicJwks)), anchor };
  }

  /** Signs the chain head now (GET /admin/tenants/:tenant/audit/checkpoint); null for a tenant without a ledger. */
  async checkpoint(tenant: string): Promise<{ seq: number; hash: string; jws: string } | null> {
    if (!this.readable(tenant)) return null;
    return this.signHead("on_demand");
  }

  createApiKey(tenant: string, key: { id: string; secretSha256: string; clientId: string; subject: string; label?: string; jkt?: string }, actor: string): ApiKeyRecord {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const now = Date.now();
      this.sql.exec(
        `INSERT INTO api_keys (id, secret_sha256, client_id, subject, label, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        key.id, key.secretSha256, key.clientId, key.subject, key.label ?? null, now,
      );
      if (key.jkt) this.sql.exec(`INSERT INTO api_key_bindings (id, jkt) VALUES (?, ?)`, key.id, key.jkt);
      this.audit.append({ type: "issued", reason: "api_key", principal: key, detail: { apiKey: key.id, actor, ...(key.jkt ? { jkt: key.jkt } : {}) } });
      return { id: key.id, clientId: key.clientId, subject: key.subject, label: key.label ?? null, createdAt: now, revokedAt: null, jkt: key.jkt ?? null };
    });
  }

  revokeApiKey(tenant: string, id: string, actor: string): boolean {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const row = this.sql.exec<ApiKeyRow>(`SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL`, id).toArray()[0];
      if (!row) return false;
      this.sql.exec(`UPDATE api_keys SET revoked_at = ? WHERE id = ?`, Date.now(), id);
      this.audit.append({ type: "revoked", reason: "api_key", principal: { clientId: row.client_id, subject: row.subject }, detail: { apiKey: id, actor } });
      return true;
    });
  }

  /** The principal an API key stands for, when the key exists, is not revoked and its secret matches. */
  apiKeyPrincipal(tenant: string, id: string, secretSha256: string): { clientId: string; subject: string; createdAt: number; jkt: string | null } | null {
    if (!this.readable(tenant)) return null;
    const row = this.sql.exec<ApiKeyRow & { jkt: string | null }>(`SELECT api_keys.*, api_key_bindings.jkt AS jkt FROM api_keys LEFT JOIN api_key_bindings USING (id) WHERE id = ?`, id).toArray()[0];
    if (!row || row.revoked_at !== null || !equalInConstantTime(row.secret_sha256, secretSha256)) return null;
    return { clientId: row.client_id, subject: row.subject, createdAt: row.created_at, jkt: row.jkt };
  }

  /** Alarm: lifecycle revocation after delivery, expiry purge, audit retention; then re-arms. */
  override async alarm(): Promise<void> {
    if (!this.hasSchema) return;
    const now = Date.now();
    const limits = this.limits();
    this.ctx.storage.transactionSync(() => {
      // Counts are written only when due: a busy object's alarm finds recent decisions and re-arms below instead.
      this.audit.flushIfDue(now);
      this.audit.drainStoredSpans();
      const delivered = this.sql
        .exec<TaskRow>(`SELECT * FROM tasks WHERE delivered_at IS NOT NULL AND revoked_at IS NULL AND delivered_at + ? <= ?`, limits.deliveryGraceMs, now)
        .toArray();
      for (const row of delivered) this.revokeRow(row, "delivered", "lifecycle", now);
      const expired = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE expires_at + ? <= ?`, PURGE_GRACE_MS, now).toArray();
      for (const row of expired) {
        this.audit.append({ type: "expired", jti: row.jti, reason: "purged", detail: { task: row.task_id } });
        this.sql.exec(`DELETE FROM tasks WHERE jti = ?`, row.jti);
      }
      this.creations.prune(now);
      this.refusals.prune(now);
    });
    if (limits.auditRetentionMs !== undefined) await this.pruneAudit(now - limits.auditRetentionMs);
    const nextCheckpoint = await this.periodicCheckpoint(now, limits.auditCheckpointMs);
    const nextExpiry = this.sql.exec<{ next: number | null }>(`SELECT MIN(expires_at) AS next FROM tasks`).one().next;
    const nextDelivery = this.sql
      .exec<{ next: number | null }>(`SELECT MIN(delivered_at) AS next FROM tasks WHERE delivered_at IS NOT NULL AND revoked_at IS NULL`)
      .one().next;
    const candidates = [nextExpiry === null ? null : nextExpiry + PURGE_GRACE_MS, nextDelivery === null ? null : nextDelivery + limits.deliveryGraceMs, nextCheckpoint].filter(
      (t): t is number => t !== null,
    );
    const housekeeping = candidates.length > 0 ? Math.max(Math.min(...candidates), now + 1000) : undefined;
    // Counts not yet due keep their own time, not housekeeping's 1 s floor: never later than IDLE_FLUSH_MS after the last decision.
    const counts = this.audit.flushDueAt();
    const next = counts === undefined ? housekeeping : Math.min(counts, housekeeping ?? counts);
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
    await this.shipAudit();
  }

  /** The SIEM queue shipper, when SIEM_QUEUE is on. */
  private auditShipper(): AuditShipper | null {
    if (this.shipper === undefined) {
      const queue = configFor(this.env).siemQueue ? this.env.AUDIT_QUEUE : undefined;
      this.shipper = queue ? new AuditShipper(this.sql, queue, () => this.tenantOf(), shardOfObjectName(this.ctx.id.name)) : null;
    }
    return this.shipper;
  }

  /**
   * Ships shortly after the write (the timer fires after the current transaction committed):
   * at most one push per SHIP_COALESCE_MS per tenant, so a folded poll span is re-sent at that
   * rate at most, not once per poll.
   */
  private shipAuditSoon(): void {
    if (this.shipScheduled || !this.auditShipper()) return;
    this.shipScheduled = true;
    setTimeout(() => {
      this.shipScheduled = false;
      void this.shipAudit();
    }, SHIP_COALESCE_MS);
  }

  /** A refused push is retried by the alarm: the chain keeps every event until the queue takes it. */
  private async shipAudit(): Promise<void> {
    try {
      await this.auditShipper()?.ship();
    } catch (error) {
      console.error(`taskward: audit push to the SIEM queue failed, retrying in ${SHIP_RETRY_MS} ms: ${(error as Error).message}`);
      await this.scheduleAlarm(Date.now() + SHIP_RETRY_MS);
    }
  }

  /**
   * Why the handle does not stand for `principal` now (undefined: it does), whatever the operation:
   * binding, revocation, expiry, the tool not forbidden. The handle's own grant is narrowed by the
   * policy in force (`rules`): the edge's when it passed it, else this object's configuration.
   */
  private standingDenial(row: TaskRow, principal: LedgerPrincipal, tenant: string, now: number, rules: RulesInForce): DenialReason | undefined {
    const bind = new Set([...splitList<BindableField>(row.bind), ...rules.bind]);
    if (principal.tenant !== tenant) return "tenant_mismatch";
    if (bind.has("client") && principal.clientId !== row.client_id) return "client_mismatch";
    if (bind.has("subject") && principal.subject !== row.subject) return "subject_mismatch";
    if (bind.has("session") && (principal.session ?? null) !== row.session_key) return "session_mismatch";
    if (row.revoked_at !== null) return row.revoke_reason === "delivered" ? "revoked_after_delivery" : "revoked";
    if (this.revokedByWatermark(row)) return "revoked_by_watermark";
    if (row.parent !== null && this.ancestorRevoked(row.parent, now)) return "parent_revoked";
    if (row.delivered_at !== null && row.delivered_at + this.limits().deliveryGraceMs <= now) return "revoked_after_delivery";
    if (Math.min(row.expires_at, row.issued_at + rules.ttlCapSeconds * 1000) <= now) return "expired";
    if (rules.forbidden) return "policy_forbids";
    return undefined;
  }

  /** Why the handle and the policy in force do not allow `op` with this authentication (undefined: they do). */
  private operationDenial(row: TaskRow, op: TaskOp, principal: LedgerPrincipal, now: number, rules: RulesInForce): DenialReason | undefined {
    if (!(splitList(row.ops).includes(op) && rules.ops.includes(op))) return "operation_not_allowed";
    if (rules.maxAuthAgeSeconds !== null && rules.stepUpOps.includes(op)) {
      const age = Math.floor(now / 1000) - (principal.authTime ?? 0);
      if (age > rules.maxAuthAgeSeconds) return "step_up_required";
    }
    return undefined;
  }

  /** The policy in force for a row's tool: as the edge passed it, else as this object's configuration says. */
  private rulesFor(row: TaskRow, passed: RulesInForce | undefined): RulesInForce {
    if (passed) return passed;
    const config = configFor(this.env);
    // The policy of the origin the handle was minted for (rows without an audience: the default origin's).
    const origin = originWithAudience(config, row.audience) ?? config.origin;
    return rulesInForce(origin.policy, origin.policyVersion, config.maxTaskTtlSeconds, row.tool);
  }

  /** True when any ancestor of a delegated handle is revoked, expired, voided by a watermark or gone. */
  private ancestorRevoked(parentJti: string, now: number): boolean {
    let jti: string | null = parentJti;
    for (let depth = 0; jti !== null && depth < MAX_DELEGATION_DEPTH; depth++) {
      const parent = this.taskRow(jti);
      if (!parent || parent.revoked_at !== null || parent.expires_at <= now || this.revokedByWatermark(parent)) return true;
      jti = parent.parent;
    }
    return jti !== null;
  }

  private revokedByWatermark(row: TaskRow): boolean {
    return this.currentWatermarks().some(
      (mark) => row.issued_at < mark.issued_before && (mark.scope === "tenant" || (mark.scope === "client" && mark.value === row.client_id) || (mark.scope === "subject" && mark.value === row.subject)),
    );
  }

  /**
   * The revocation watermarks, read from storage once and kept in memory: this object is their
   * only writer, and revokeScope drops the copy, so the copy is never stale.
   */
  private currentWatermarks(): Array<{ scope: string; value: string; issued_before: number }> {
    this.watermarks ??= this.sql.exec<{ scope: string; value: string; issued_before: number }>(`SELECT scope, value, issued_before FROM revocations`).toArray();
    return this.watermarks;
  }

  private revokeRow(row: TaskRow, reason: string, actor: string, now: number): void {
    this.sql.exec(`UPDATE tasks SET revoked_at = ?, revoke_reason = ? WHERE jti = ?`, now, reason, row.jti);
    this.audit.append({ type: "revoked", jti: row.jti, reason, detail: { actor, task: row.task_id } });
  }

  private foldRefusal(principal: LedgerPrincipal, reason: string, input: Parameters<AuditLog["fold"]>[1]): void {
    if (this.audit.fold(refusalSpanKey(principal, reason), input)) this.armFlushAlarm();
  }

  // The first repeat not yet written arms the alarm for when it is due (IDLE_FLUSH_MS ahead); the alarm re-arms while busy.
  private armFlushAlarm(): void {
    const due = this.audit.flushDueAt();
    if (due !== undefined) void this.scheduleAlarm(due);
  }

  // Counts complete up to now (before an export, a handle's history, a checkpoint).
  private writeCounts(): void {
    this.audit.flush();
    this.audit.drainStoredSpans();
  }

  /** A caller of another tenant is named with its tenant (rows carry only client and subject). */
  private callerDetail(principal: LedgerPrincipal, tenant: string): Record<string, string> | undefined {
    return principal.tenant === tenant ? undefined : { callerTenant: principal.tenant };
  }

  /**
   * Retention: signs the last event to be removed before removing it, so the anchor the rest of
   * the chain starts from is always covered by a signed checkpoint. Without a signing key
   * nothing is pruned (an unsigned anchor would not verify).
   */
  private async pruneAudit(before: number): Promise<void> {
    const point = this.audit.prunePoint(before);
    if (!point) return;
    const jws = await this.sign(point, "retention").catch((error: Error) => void console.error(`taskward: audit retention skipped: ${error.message}`));
    if (!jws) return;
    this.ctx.storage.transactionSync(() => {
      this.storeCheckpoint(point, "retention", jws);
      this.audit.prune(point);
    });
  }

  /** Signs the head when events were added since the last checkpoint and the interval passed; returns when to look again. */
  private async periodicCheckpoint(now: number, intervalMs: number): Promise<number | null> {
    const last = this.sql.exec<{ seq: number; at: number }>(`SELECT seq, at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`).toArray()[0];
    const head = this.audit.head();
    if (!head || (last && last.seq >= head.seq)) return null;
    const due = (last?.at ?? 0) + intervalMs;
    if (due > now) return due;
    await this.signHead("periodic").catch((error: Error) => void console.error(`taskward: periodic audit checkpoint failed: ${error.message}`));
    return null;
  }

  private async signHead(reason: string): Promise<{ seq: number; hash: string; jws: string }> {
    const tip = this.ctx.storage.transactionSync(() => {
      this.writeCounts();
      return this.audit.sealHead();
    });
    const jws = await this.sign(tip, reason);
    this.storeCheckpoint(tip, reason, jws);
    return { ...tip, jws };
  }

  private async sign(point: { seq: number; hash: string }, reason: string): Promise<string> {
    const config = configFor(this.env);
    const keyRing = await signingKeyRing(config);
    if (!keyRing) throw new Error("no signing key for audit checkpoints");
    return signCheckpoint({ tenant: this.tenantOf(), seq: point.seq, hash: point.hash, reason }, keyRing, config.issuer);
  }

  private storeCheckpoint(point: { seq: number; hash: string }, reason: string, jws: string): void {
    this.sql.exec(`INSERT OR REPLACE INTO audit_checkpoints (seq, hash, at, reason, jws) VALUES (?, ?, ?, ?, ?)`, point.seq, point.hash, Date.now(), reason, jws);
  }

  private checkpointAt(seq: number): string | null {
    return this.sql.exec<{ jws: string }>(`SELECT jws FROM audit_checkpoints WHERE seq = ?`, seq).toArray()[0]?.jws ?? null;
  }

  private countRefusal(principal: LedgerPrincipal): void {
    this.refusals.record(principalKey(principal), Date.now(), this.limits().refusalsPerMinute);
  }

  private refusalRetryAfter(principal: LedgerPrincipal): number {
    return this.refusals.retryAfter(principalKey(principal), this.limits().refusalsPerMinute);
  }

  // Spends a DPoP proof in the caller's turn: false when its key was already spent (a replay).
  private spendProofRow(proofKey: string, expiresAt: number): boolean {
    const now = Date.now();
    this.pruneSpentProofs(now);
    if (this.sql.exec(`SELECT 1 FROM dpop_spent WHERE proof_key = ?`, proofKey).toArray().length > 0) return false;
    this.sql.exec(`INSERT INTO dpop_spent (proof_key, expires_at) VALUES (?, ?)`, proofKey, Math.max(expiresAt, now + 1));
    return true;
  }

  // Deletes spent proofs past their window at most once per PROOF_PRUNE_MS: a proof past it is refused by its iat anyway.
  private pruneSpentProofs(now: number): void {
    if (now < this.nextProofPrune) return;
    this.nextProofPrune = now + PROOF_PRUNE_MS;
    this.sql.exec(`DELETE FROM dpop_spent WHERE expires_at <= ?`, now);
    // Proofs an earlier release spent (dpop_proofs) move here, so they stay refused for the rest of their window.
    if (this.sql.exec(`SELECT 1 FROM dpop_proofs LIMIT 1`).toArray().length > 0) {
      this.sql.exec(`INSERT OR IGNORE INTO dpop_spent SELECT proof_key, expires_at FROM dpop_proofs WHERE expires_at > ?`, now);
      this.sql.exec(`DELETE FROM dpop_proofs`);
    }
  }

  private taskRow(jti: string): TaskRow | undefined {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE jti = ?`, jti).toArray()[0];
  }

  private limits(): LedgerLimits {
    return configFor(this.env).ledgerLimits;
  }

  /** The tenant this object serves, read once (it never changes after it is bound). */
  private storedTenant(): string | undefined {
    this.boundTenant ??= this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant'`).toArray()[0]?.value;
    return this.boundTenant;
  }

  /** Creates the tables (idempotent) and adds columns introduced after a table first shipped. */
  private applySchema(): void {
    for (const statement of LEDGER_SCHEMA) this.sql.exec(statement);
    for (const { table, column, definition } of LEDGER_ADDED_COLUMNS) {
      const present = this.sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table).toArray().some((c) => c.name === column);
      if (!present) this.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
    }
  }

  /** The ledger belongs to one tenant, bound on first use (its first write creates its tables). */
  private bindTenant(tenant: string): void {
    if (!this.hasSchema) {
      this.applySchema();
      this.hasSchema = true;
    }
    const bound = this.storedTenant();
    if (bound === undefined) {
      this.sql.exec(`INSERT INTO meta (key, value) VALUES ('tenant', ?)`, tenant);
      this.boundTenant = tenant;
    } else if (bound !== tenant) throw new Error(`ledger of tenant ${bound} called for tenant ${tenant}`);
  }

  /** Whether a read may look here: the ledger exists and is this tenant's (reads never create one). */
  private readable(tenant: string): boolean {
    return this.hasSchema && this.servesTenant(tenant);
  }

  /** False when this object already belongs to another tenant (a routing bug: refuse, record nothing here). */
  private servesTenant(tenant: string): boolean {
    if (!this.hasSchema) return true;
    const bound = this.storedTenant();
    if (bound !== undefined && bound !== tenant) {
      console.error(`taskward: ledger of tenant ${bound} asked to decide for tenant ${tenant}`);
      return false;
    }
    return true;
  }

  private tenantOf(): string {
    const bound = this.storedTenant();
    if (bound === undefined) throw new Error("ledger used before its tenant was bound");
    return bound;
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }
}
