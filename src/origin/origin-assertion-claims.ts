/** The per-call origin assertion taskward signs and `taskward/origin` verifies: its wire shape, defined once. */

export const ORIGIN_ASSERTION_TYP = "taskward-origin-assertion+jwt";
/** The request header carrying the assertion to the origin. */
export const ORIGIN_ASSERTION_HEADER = "Taskward-Origin-Assertion";

/**
 * What the edge decided the call is: a task operation by effect, `create` for tools/call,
 * `list` (tasks/list), `listen` (subscriptions/listen), `message` for anything else.
 */
export type OriginAssertionOp = "create" | "get" | "result" | "cancel" | "update" | "list" | "listen" | "message";

export interface OriginAssertionClaims {
  iss: string;
  /** The origin's resource URI. */
  aud: string;
  iat: number;
  exp: number;
  /** Unique per assertion: the origin's replay key. */
  jti: string;
  /** The transaction id, also recorded in the audit event of the decision. */
  txn: string;
  tenant: string;
  client_id: string;
  sub: string;
  op: OriginAssertionOp;
  /** base64url SHA-256 of the exact forwarded body bytes. */
  req_digest: string;
  /** The origin task id the call is about (absent on creation). */
  task?: string;
  /** The origin task ids of a subscriptions/listen. */
  tasks?: string[];
  /** The jti of the task handle the call was authorized with. */
  handle_jti?: string;
  /** The key the caller proved possession of (DPoP), when it did. */
  cnf?: { jkt: string };
}
