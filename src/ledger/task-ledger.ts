import { DurableObject } from "cloudflare:workers";
import type { TaskOp } from "../handle/claims.js";
import { eventHash, genesisHash, verifyChain, type AuditEvent, type AuditEventType, type ChainVerification } from "./audit-chain.js";
import { LEDGER_SCHEMA } from "./schema.js";
import {
  TERMINAL_STATUSES,
  type Decision,
  type DenialReason,
  type IssueRecord,
  type LedgerPrincipal,
  type OwnedHandle,
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
  status: string;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
  parent: string | null;
}

interface AuditInput {
  type: AuditEventType;
  jti?: string | null;
  op?: string | null;
  principal?: Pick<LedgerPrincipal, "clientId" | "subject"> | null;
  reason?: string | null;
  detail?: unknown;
}

/** Expired rows are kept this long past expiry so late follow-ups still meet an audited "expired". */
const PURGE_GRACE_MS = 60 * 60 * 1000;

function toRecord(row: TaskRow): TaskRecord {
  return {
    jti: row.jti,
    taskId: row.task_id,
    clientId: row.client_id,
    subject: row.subject,
    tool: row.tool,
    ops: row.ops.split(",").filter(Boolean) as TaskOp[],
    mcp: row.mcp,
    status: row.status,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
    parent: row.parent,
  };
}

/**
 * One tenant's task handles, revocations and audit chain (one object per tenant, named by the
 * tenant id). Every public method runs synchronously against SQLite inside one transaction, so a
 * decision and its audit event commit together and the chain is appended in order.
 */
export class TaskLedger extends DurableObject {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.sql = ctx.storage.sql;
    for (const statement of LEDGER_SCHEMA) this.sql.exec(statement);
  }

  /** Records a freshly minted handle and its `issued` event. */
  issue(tenant: string, record: IssueRecord): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      this.sql.exec(
        `INSERT INTO tasks (jti, task_id, handle, client_id, subject, tool, ops, mcp, status, issued_at, expires_at, parent)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        record.jti, record.taskId, record.handle, record.principal.clientId, record.principal.subject, record.tool,
        record.ops.join(","), record.mcp, record.status, record.issuedAt, record.expiresAt, record.parent ?? null,
      );
      this.appendAudit({
        type: "issued",
        jti: record.jti,
        principal: record.principal,
        detail: { task: record.taskId, tool: record.tool, ops: record.ops, exp: record.expiresAt, mcp: record.mcp },
      });
    });
    void this.scheduleExpiryAlarm(record.expiresAt);
  }

  /**
   * Decides whether `principal` may perform `op` with handle `jti`, and records the decision.
   * Binding failures, revocation, expiry and operation checks all happen here, in one transaction.
   */
  authorize(tenant: string, jti: string, op: TaskOp, principal: LedgerPrincipal): Decision {
    if (!this.servesTenant(tenant)) return { allowed: false, reason: "wrong_ledger" };
    return this.ctx.storage.transactionSync((): Decision => {
      this.bindTenant(tenant);
      const now = Date.now();
      const row = this.taskRow(jti);
      const reason = this.denialReason(row, op, principal, tenant, now);
      if (reason || !row) {
        const denial = reason ?? "unknown_handle";
        this.appendAudit({ type: "denied", jti, op, principal, reason: denial });
        return { allowed: false, reason: denial };
      }
      this.appendAllowed(jti, op, principal, now);
      return { allowed: true, taskId: row.task_id, status: row.status, tool: row.tool };
    });
  }

  /** Records a refusal decided before the ledger could look the handle up (bad signature, …). */
  recordRefusal(tenant: string, principal: LedgerPrincipal, reason: DenialReason, detail: unknown, jti?: string): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      this.appendAudit({ type: "denied", jti: jti ?? null, principal, reason, detail });
    });
  }

  /** Updates the last status the origin reported for one of its tasks; a first terminal status is audited. */
  observeStatus(tenant: string, taskId: string, status: string): void {
    this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const rows = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE task_id = ? AND status != ?`, taskId, status).toArray();
      if (rows.length === 0) return;
      this.sql.exec(`UPDATE tasks SET status = ? WHERE task_id = ?`, status, taskId);
      const root = rows.find((row) => row.parent === null) ?? rows[0]!;
      if (TERMINAL_STATUSES.has(status) && !TERMINAL_STATUSES.has(root.status)) {
        this.appendAudit({ type: "terminal", jti: root.jti, reason: status });
      }
    });
  }

  /** Handles (and TTLs) of `principal`'s live tasks among `taskIds` (origin ids), for tasks/list and notifications. */
  ownedHandles(tenant: string, principal: LedgerPrincipal, taskIds: string[]): Record<string, OwnedHandle> {
    this.bindTenant(tenant);
    const owned: Record<string, OwnedHandle> = {};
    const now = Date.now();
    for (const taskId of taskIds) {
      const rows = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE task_id = ? ORDER BY issued_at DESC`, taskId).toArray();
      const row = rows.find((r) => this.denialReason(r, undefined, principal, tenant, now) === undefined);
      if (row) owned[taskId] = { handle: row.handle, ttlMs: row.expires_at - row.issued_at };
    }
    return owned;
  }

  /** Revokes one handle (by jti) or every handle of one origin task; effective for the next call. */
  revoke(tenant: string, target: RevocationTarget, reason: string, actor: string): { revoked: number } {
    return this.ctx.storage.transactionSync(() => {
      this.bindTenant(tenant);
      const now = Date.now();
      const rows =
        "jti" in target
          ? this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE jti = ? AND revoked_at IS NULL`, target.jti).toArray()
          : this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE task_id = ? AND revoked_at IS NULL`, target.taskId).toArray();
      for (const row of rows) {
        this.sql.exec(`UPDATE tasks SET revoked_at = ?, revoke_reason = ? WHERE jti = ?`, now, reason, row.jti);
        this.appendAudit({ type: "revoked", jti: row.jti, reason, detail: { actor, target } });
      }
      return { revoked: rows.length };
    });
  }

  task(tenant: string, jti: string): TaskRecord | null {
    this.bindTenant(tenant);
    const row = this.taskRow(jti);
    return row ? toRecord(row) : null;
  }

  /** Audit events after `afterSeq`, oldest first, at most `limit`. */
  auditEvents(tenant: string, afterSeq = 0, limit = 1000): AuditEvent[] {
    this.bindTenant(tenant);
    return this.sql
      .exec<AuditEvent & Record<string, SqlStorageValue>>(`SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
      .toArray();
  }

  verifyAudit(tenant: string): ChainVerification {
    this.bindTenant(tenant);
    return verifyChain(tenant, this.sql.exec<AuditEvent & Record<string, SqlStorageValue>>(`SELECT * FROM audit ORDER BY seq`));
  }

  /** Alarm: audits and purges tasks past expiry (plus grace), then re-arms for the next expiry. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const expired = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE expires_at + ? <= ?`, PURGE_GRACE_MS, now).toArray();
      for (const row of expired) {
        this.appendAudit({ type: "expired", jti: row.jti, reason: "purged", detail: { task: row.task_id } });
        this.sql.exec(`DELETE FROM tasks WHERE jti = ?`, row.jti);
      }
    });
    const next = this.sql.exec<{ next: number | null }>(`SELECT MIN(expires_at) AS next FROM tasks`).one().next;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next + PURGE_GRACE_MS, now + 1000));
  }

  private denialReason(row: TaskRow | undefined, op: TaskOp | undefined, principal: LedgerPrincipal, tenant: string, now: number): DenialReason | undefined {
    if (!row) return "unknown_handle";
    if (principal.tenant !== tenant) return "tenant_mismatch";
    if (principal.clientId !== row.client_id) return "client_mismatch";
    if (principal.subject !== row.subject) return "subject_mismatch";
    if (row.revoked_at !== null) return "revoked";
    if (row.parent !== null && this.isRevokedOrMissing(row.parent)) return "revoked";
    if (this.revokedByWatermark(row)) return "revoked_by_watermark";
    if (row.expires_at <= now) return "expired";
    if (op !== undefined && !row.ops.split(",").includes(op)) return "operation_not_allowed";
    return undefined;
  }

  private isRevokedOrMissing(jti: string): boolean {
    const parent = this.taskRow(jti);
    return !parent || parent.revoked_at !== null;
  }

  private revokedByWatermark(row: TaskRow): boolean {
    const hit = this.sql
      .exec(
        `SELECT 1 FROM revocations WHERE issued_before > ? AND ((scope = 'tenant') OR (scope = 'client' AND value = ?) OR (scope = 'subject' AND value = ?)) LIMIT 1`,
        row.issued_at, row.client_id, row.subject,
      )
      .toArray();
    return hit.length > 0;
  }

  private taskRow(jti: string): TaskRow | undefined {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE jti = ?`, jti).toArray()[0];
  }

  /** The ledger belongs to one tenant; a call naming another tenant is a routing bug, refused. */
  private bindTenant(tenant: string): void {
    const bound = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant'`).toArray()[0];
    if (!bound) this.sql.exec(`INSERT INTO meta (key, value) VALUES ('tenant', ?)`, tenant);
    else if (bound.value !== tenant) throw new Error(`ledger of tenant ${bound.value} called for tenant ${tenant}`);
  }

  /** False when this object already belongs to another tenant (a routing bug: refuse, record nothing here). */
  private servesTenant(tenant: string): boolean {
    const bound = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant'`).toArray()[0];
    if (bound && bound.value !== tenant) {
      console.error(`taskward: ledger of tenant ${bound.value} asked to decide for tenant ${tenant}`);
      return false;
    }
    return true;
  }

  private tenantOf(): string {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant'`).one().value;
  }

  /**
   * A repeated allowed `get` by the same principal on the same handle extends the newest event's
   * span (count, last_at) instead of adding a row: storage grows with what happened, not with
   * how often a client polled. Only the chain head is ever rewritten, and its hash is recomputed.
   */
  private appendAllowed(jti: string, op: TaskOp, principal: LedgerPrincipal, now: number): void {
    if (op === "get") {
      const head = this.sql.exec<AuditEvent & Record<string, SqlStorageValue>>(`SELECT * FROM audit ORDER BY seq DESC LIMIT 1`).toArray()[0];
      if (head && head.type === "allowed" && head.jti === jti && head.op === op && head.client_id === principal.clientId && head.subject === principal.subject) {
        const extended = { ...head, count: head.count + 1, last_at: now };
        const { hash: _old, ...unhashed } = extended;
        const hash = eventHash(unhashed);
        this.sql.exec(`UPDATE audit SET count = ?, last_at = ?, hash = ? WHERE seq = ?`, extended.count, now, hash, head.seq);
        return;
      }
    }
    this.appendAudit({ type: "allowed", jti, op, principal });
  }

  private appendAudit(input: AuditInput): void {
    const head = this.sql.exec<{ seq: number; hash: string }>(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).toArray()[0];
    const now = Date.now();
    const event: Omit<AuditEvent, "hash"> = {
      seq: (head?.seq ?? 0) + 1,
      at: now,
      last_at: now,
      count: 1,
      type: input.type,
      jti: input.jti ?? null,
      op: input.op ?? null,
      client_id: input.principal?.clientId ?? null,
      subject: input.principal?.subject ?? null,
      reason: input.reason ?? null,
      detail: input.detail === undefined ? null : JSON.stringify(input.detail),
      prev_hash: head?.hash ?? genesisHash(this.tenantOf()),
    };
    const hash = eventHash(event);
    this.sql.exec(
      `INSERT INTO audit (seq, at, last_at, count, type, jti, op, client_id, subject, reason, detail, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      event.seq, event.at, event.last_at, event.count, event.type, event.jti, event.op, event.client_id, event.subject,
      event.reason, event.detail, event.prev_hash, hash,
    );
  }

  private async scheduleExpiryAlarm(expiresAt: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    const wanted = expiresAt + PURGE_GRACE_MS;
    if (current === null || wanted < current) await this.ctx.storage.setAlarm(wanted);
  }
}
