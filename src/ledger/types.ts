import type { TaskOp } from "../handle/claims.js";

/** The principal fields a ledger decision needs (tenant is the ledger itself). */
export interface LedgerPrincipal {
  tenant: string;
  clientId: string;
  subject: string;
}

export interface IssueRecord {
  jti: string;
  taskId: string;
  handle: string;
  principal: LedgerPrincipal;
  tool: string;
  ops: TaskOp[];
  mcp: string;
  status: string;
  issuedAt: number;
  expiresAt: number;
  parent?: string;
}

export type DenialReason =
  | "unknown_handle"
  | "tenant_mismatch"
  | "client_mismatch"
  | "subject_mismatch"
  | "revoked"
  | "revoked_by_watermark"
  | "expired"
  | "operation_not_allowed"
  | "handle_invalid"
  /** The call reached another tenant's ledger object: a routing bug, refused. */
  | "wrong_ledger";

export type Decision =
  | { allowed: true; taskId: string; status: string; tool: string }
  | { allowed: false; reason: DenialReason };

export interface TaskRecord {
  jti: string;
  taskId: string;
  clientId: string;
  subject: string;
  tool: string;
  ops: TaskOp[];
  mcp: string;
  status: string;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokeReason: string | null;
  parent: string | null;
}

export type RevocationTarget = { jti: string } | { taskId: string };

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

export interface OwnedHandle {
  handle: string;
  ttlMs: number;
}
