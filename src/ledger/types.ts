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
  /** 2025-11-25: the origin's Mcp-Session-Id the task was created on (its cancel must use it). */
  originSession?: string;
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
}

export interface ApiKeyRecord {
  id: string;
  clientId: string;
  subject: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}

/** Which in-flight tasks a supervisory cancel covers: the revocation's own target or scope. */
export type CancelSelector = RevocationTarget | RevocationScope;

/** A task the origin may still be running, with what its cancel needs. */
export interface InFlightTask {
  jti: string;
  taskId: string;
  handle: string;
  mcp: string;
  status: string;
  originSession: string | null;
}

/** The outcome of one supervisory cancel at the origin. */
export interface CancelOutcome {
  jti: string;
  task: string;
  outcome: "cancelled" | "already_terminal" | "refused" | "unreachable" | "no_session";
  status?: string;
  detail?: string;
}
