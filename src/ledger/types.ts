import type { TaskOp } from "../handle/claims.js";
import type { BindableField } from "../policy/task-policy.js";

/** The principal fields a ledger decision needs (tenant names the ledger itself). */
export interface LedgerPrincipal {
  tenant: string;
  clientId: string;
  subject: string;
  /** Seconds since epoch the caller last authenticated; needed for step-up checks. */
  authTime?: number;
}

export interface IssueRecord {
  jti: string;
  taskId: string;
  handle: string;
  principal: LedgerPrincipal;
  tool: string;
  ops: TaskOp[];
  mcp: string;
  bind: BindableField[];
  maxAuthAgeSeconds: number | undefined;
  stepUpOps: TaskOp[];
  status: string;
  issuedAt: number;
  expiresAt: number;
  /** Delegated handles: the parent's jti and who delegated. */
  parent?: string;
  actor?: string;
}

export type DenialReason =
  | "unknown_handle"
  | "tenant_mismatch"
  | "client_mismatch"
  | "subject_mismatch"
  | "revoked"
  | "revoked_by_watermark"
  | "revoked_after_delivery"
  | "parent_revoked"
  | "expired"
  | "operation_not_allowed"
  | "step_up_required"
  | "rate_limited"
  | "handle_invalid"
  | "task_mismatch"
  /** The call reached another tenant's ledger object: a routing bug, refused. */
  | "wrong_ledger";

export type Decision =
  | { allowed: true; taskId: string; status: string; tool: string }
  | { allowed: false; reason: Exclude<DenialReason, "step_up_required" | "rate_limited"> }
  | { allowed: false; reason: "step_up_required"; maxAuthAgeSeconds: number }
  | { allowed: false; reason: "rate_limited"; retryAfterSeconds: number };

export interface TaskRecord {
  jti: string;
  taskId: string;
  clientId: string;
  subject: string;
  tool: string;
  ops: TaskOp[];
  mcp: string;
  bind: BindableField[];
  status: string;
  issuedAt: number;
  expiresAt: number;
  deliveredAt: number | null;
  revokedAt: number | null;
  revokeReason: string | null;
  parent: string | null;
  actor: string | null;
}

export type RevocationTarget = { jti: string } | { taskId: string };
export type RevocationScope = { scope: "tenant" } | { scope: "client"; value: string } | { scope: "subject"; value: string };

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

export interface OwnedHandle {
  handle: string;
  ttlMs: number;
  /** Last status the ledger saw, so unchanged statuses are not written back. */
  status: string;
}

/** Limits the ledger enforces, from config. */
export interface LedgerLimits {
  deliveryGraceMs: number;
  creationsPerMinute: number;
  refusalsPerMinute: number;
  auditRetentionMs: number | undefined;
  /** How often the alarm signs the chain head when events were added (AUDIT_CHECKPOINT_SECONDS). */
  auditCheckpointMs: number;
}

export interface ApiKeyRecord {
  id: string;
  clientId: string;
  subject: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}
