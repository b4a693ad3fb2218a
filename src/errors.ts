/**
 * Every refusal taskward can give, defined once: a stable machine-readable `code`, the HTTP
 * status, the JSON-RPC error code and the message the caller sees. The detailed reason goes to
 * the audit trail, not to the wire.
 */
export const REFUSALS = {
  // Caller authentication
  missing_credentials: { status: 401, rpc: -32001, message: "Authorization: Bearer credentials are required" },
  invalid_credentials: { status: 401, rpc: -32001, message: "The bearer token is invalid, expired or not for this resource" },
  forbidden_origin: { status: 403, rpc: -32000, message: "Forbidden: this Origin or Host may not call the MCP endpoint" },
  invalid_dpop_proof: { status: 401, rpc: -32001, message: "The DPoP proof is missing, invalid, replayed or not by the key the token is bound to" },
  dpop_required: { status: 401, rpc: -32001, message: "This call requires a DPoP proof of possession" },
  admin_unauthorized: { status: 401, rpc: -32001, message: "A valid admin credential is required" },
  // Operators: the public message names the missing role or tenant (operators may know their own grant).
  operator_role_missing: { status: 403, rpc: -32003, message: "The operator's roles do not allow this operation" },
  operator_tenant_forbidden: { status: 403, rpc: -32003, message: "The operator is not granted this tenant" },
  // Envelope
  unsupported_media_type: { status: 415, rpc: -32700, message: "Content-Type must be application/json" },
  body_too_large: { status: 413, rpc: -32600, message: "Request body exceeds the configured limit" },
  parse_error: { status: 400, rpc: -32700, message: "Request body is not valid JSON" },
  batch_not_supported: { status: 400, rpc: -32600, message: "JSON-RPC batches are not supported by MCP Streamable HTTP" },
  invalid_request: { status: 400, rpc: -32600, message: "Not a valid JSON-RPC 2.0 message" },
  invalid_params: { status: 400, rpc: -32602, message: "Invalid params" },
  // 2026-07-28 wire
  header_mismatch: { status: 400, rpc: -32020, message: "Header mismatch" },
  missing_client_capability: { status: 400, rpc: -32021, message: "Missing required client capability" },
  method_removed: { status: 404, rpc: -32601, message: "Method not found" },
  // Handles: every handle failure (another origin's handle included) answers like an unknown task so handles cannot be probed.
  unknown_task: { status: 200, rpc: -32602, message: "Task not found" },
  // Governance
  task_support_forbidden: { status: 200, rpc: -32601, message: "Policy forbids running this tool as a task" },
  task_support_required: { status: 200, rpc: -32601, message: "Policy requires running this tool as a task" },
  step_up_required: { status: 403, rpc: -32003, message: "This operation requires a more recent authentication" },
  rate_limited: { status: 429, rpc: -32029, message: "Too many requests; retry later" },
  // Ledger / infrastructure: fail closed.
  ledger_unavailable: { status: 503, rpc: -32603, message: "Task authority temporarily unavailable" },
  signing_unavailable: { status: 503, rpc: -32603, message: "Task authority cannot sign handles" },
  origin_unreachable: { status: 502, rpc: -32603, message: "The origin MCP server could not be reached" },
  origin_invalid_response: { status: 502, rpc: -32603, message: "The origin MCP server returned an invalid response" },
  not_found: { status: 404, rpc: -32601, message: "Not found" },
  // /mcp/<name> for a name ORIGINS does not define.
  unknown_origin: { status: 404, rpc: -32601, message: "No such origin" },
  // 2025-11-25 sessions: another principal's, forged or unknown session ids all answer like this.
  session_not_found: { status: 404, rpc: -32001, message: "Session not found" },
  method_not_allowed: { status: 405, rpc: -32601, message: "Method not allowed" },
} as const;

export type RefusalCode = keyof typeof REFUSALS;

/** A refusal with its stable code; `detail` is for the audit trail and logs, never the wire. */
export class Refusal extends Error {
  override readonly name = "Refusal";
  /** The JSON-RPC id of the refused request, when it was read before the refusal. */
  requestId: string | number | null = null;
  readonly status: number;
  readonly rpcCode: number;
  constructor(
    readonly code: RefusalCode,
    readonly detail?: string,
    readonly publicMessage?: string,
    /** JSON-RPC `error.data` the caller sees (e.g. requiredCapabilities for -32021). */
    readonly data?: unknown,
    /** HTTP headers the refusal carries (Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ? `${REFUSALS[code].message}: ${detail}` : REFUSALS[code].message);
    this.status = REFUSALS[code].status;
    this.rpcCode = REFUSALS[code].rpc;
  }

  /** The message the caller sees: the fixed text, or an explicit public one (never `detail`). */
  get wireMessage(): string {
    return this.publicMessage ?? REFUSALS[this.code].message;
  }
}
