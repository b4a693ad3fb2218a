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
  /** The transaction id of the creating call, also in its origin assertion. */
  txn?: string;
  /** The key the handle is bound to (cnf.jkt), for the audit trail. */
  jkt?: string;
}

/** What one follow-up brings to `authorize` besides the handle: its DPoP proof to spend, its transaction id. */
export interface AuthorizeExtras {
  proof?: { key: string; expiresAt: number };
  txn?: string;
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
  | "wrong_ledger"
  /** DPoP: the handle is bound to a key (cnf.jkt) and the call carried no proof, or one by another key. */
  | "dpop_proof_missing"
  | "dpop_key_mismatch"
  /** DPoP: the proof's jti was already spent within its window. */
  | "dpop_replay";

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
  /** The DPoP key (RFC 7638 thumbprint) the key is bound to: every use needs a proof by it. */
  jkt: string | null;
}
