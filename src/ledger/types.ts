import type { RulesInForce } from "../policy/task-policy.js";
import type { TaskOp } from "../handle/claims.js";
import type { BindableField } from "../policy/task-policy.js";

/** The principal fields a ledger decision needs (tenant names the ledger itself). */
export interface LedgerPrincipal {
  tenant: string;
  clientId: string;
  subject: string;
  /** Seconds since epoch the caller last authenticated; needed for step-up checks. */
  authTime?: number;
  /** The caller's 2025-11-25 session (SHA-256 of the origin session id), for session-bound handles. */
  session?: string;
  /** The origin called, when not the default one: its rate limits count apart. */
  origin?: string;
}

/** The caller as the ledger sees it: only the fields it reads (a non-default origin named, so its limits count apart). */
export function ledgerPrincipalOf(principal: LedgerPrincipal): LedgerPrincipal {
  const { tenant, clientId, subject, authTime, session, origin } = principal;
  return { tenant, clientId, subject, authTime, session, ...(origin === undefined ? {} : { origin }) };
}

export interface IssueRecord {
  jti: string;
  taskId: string;
  /** The handle the client holds (no origin task id in it). */
  handle: string;
  /** The copy forwarded to the origin, naming its task id (stateless origin verification). */
  originHandle: string;
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
  /** The whole delegation chain (RFC 8693 `act`, nested), for the audit trail. */
  act?: unknown;
  /** The creating request's session (SHA-256 of the origin session id), if it had one. */
  session?: string;
  /** The transaction id of the creating call, also in its origin assertion. */
  txn?: string;
  /** The key the handle is bound to (cnf.jkt), for the audit trail. */
  jkt?: string;
  /** 2025-11-25: the origin's Mcp-Session-Id the task was created on (its cancel must use it). */
  originSession?: string;
  /** The audience (`aud`) of the handle: which origin it was minted for. */
  audience?: string;
}

/** What one follow-up brings to `authorize` besides the handle: its DPoP proof to spend, its transaction id. */
export interface AuthorizeExtras {
  proof?: { key: string; expiresAt: number };
  txn?: string;
  /** The policy in force for the handle's tool, as the edge read it; absent: the ledger's own configuration. */
  rules?: RulesInForce;
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
  /** A genuine handle of another configured origin, used behind this one. */
  | "origin_mismatch"
  | "task_mismatch"
  /** The call reached another tenant's ledger object: a routing bug, refused. */
  | "wrong_ledger"
  /** The policy in force now forbids tasks of the handle's tool. */
  | "policy_forbids"
  /** A session-bound handle used outside the session that created it. */
  | "session_mismatch"
  /** Mcp-Session-Id not sealed by this authority (forged, altered, retired key). */
  | "session_invalid"
  /** DPoP: the handle is bound to a key (cnf.jkt) and the call carried no proof, or one by another key. */
  | "dpop_proof_missing"
  | "dpop_key_mismatch"
  /** DPoP: the proof's jti was already spent within its window. */
  | "dpop_replay";

export type Decision =
  /** `resultAllowed`: the same principal may also see the task's result payload now (ops and step-up for `result`). */
  | { allowed: true; taskId: string; originHandle: string; status: string; tool: string; resultAllowed: boolean }
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
  /** The DPoP key (RFC 7638 thumbprint) the key is bound to: every use needs a proof by it. */
  jkt: string | null;
}

/** Which in-flight tasks a supervisory cancel covers: the revocation's own target or scope. */
export type CancelSelector = RevocationTarget | RevocationScope;

/** A task the origin may still be running, with what its cancel needs. */
export interface InFlightTask {
  jti: string;
  taskId: string;
  /** The jti of the task's own (undelegated) handle, and its origin-facing copy naming the origin task. */
  handleJti: string;
  handle: string;
  /** Who created the task: the principal the cancel is asserted for, on the operator's authority. */
  clientId: string;
  subject: string;
  mcp: string;
  status: string;
  originSession: string | null;
  /** The audience of the task's handles (its origin); null on rows from before ORIGINS: the default origin. */
  audience: string | null;
}

/** The outcome of one supervisory cancel at the origin. */
export interface CancelOutcome {
  jti: string;
  task: string;
  outcome: "cancelled" | "already_terminal" | "refused" | "unreachable" | "no_session";
  status?: string;
  detail?: string;
}
