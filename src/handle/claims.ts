/** The claims of a task handle (docs/architecture.md, "Handles and keys"). */

export const HANDLE_TYP = "mcp-task-handle+jwt";
export const HANDLE_ALGORITHMS = ["EdDSA", "ES256"] as const;
export type HandleAlgorithm = (typeof HANDLE_ALGORITHMS)[number];
/** Longest compact JWS accepted; anything longer is refused before it is parsed. */
export const MAX_HANDLE_LENGTH = 4096;

export const TASK_OPS = ["get", "result", "cancel", "update"] as const;
export type TaskOp = (typeof TASK_OPS)[number];

export interface TaskHandleClaims {
  iss: string;
  aud: string;
  sub: string;
  tenant: string;
  client_id: string;
  jti: string;
  iat: number;
  exp: number;
  /**
   * The origin's own task id: only in the origin-facing copy the edge forwards. Handles clients
   * hold leave it out (the ledger maps `jti` to it); handles minted before that carry it.
   */
  task?: string;
  /** The tool that created the task. */
  tool: string;
  ops: TaskOp[];
  /** MCP protocol revision the task was created under. */
  mcp: string;
  /** Who delegated this handle; an earlier delegator nests inside (RFC 8693 §4.1). */
  act?: Actor;
  parent?: string;
  cnf?: { jkt: string };
  /** The ledger shard that records this handle, chosen at issuance; absent means shard 0. */
  shd?: number;
}

export interface Actor {
  sub: string;
  client_id?: string;
  act?: Actor;
}

/** What the caller of `mintHandle` decides; `iss`, `aud`, `iat` and `jti` are filled in. */
export type HandleGrant = Omit<TaskHandleClaims, "iss" | "aud" | "iat" | "jti"> & { jti?: string };

export function isTaskOp(value: unknown): value is TaskOp {
  return typeof value === "string" && (TASK_OPS as readonly string[]).includes(value);
}
