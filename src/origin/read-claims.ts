import type { JWTPayload } from "jose";
import { isTaskOp } from "../handle/claims.js";
import type { TaskHandleClaims } from "./claims.js";
import { TaskHandleError } from "../handle/errors.js";

/** The claims jose is asked to require before the shape of each is checked here. */
export const REQUIRED_CLAIMS = ["iss", "aud", "sub", "tenant", "client_id", "jti", "iat", "exp", "task", "tool", "ops", "mcp"];

function text(payload: JWTPayload, claim: string): string {
  const value = payload[claim];
  if (typeof value !== "string" || value.length === 0) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", `claim ${claim} must be a non-empty string`, claim);
  }
  return value;
}

/**
 * The handle's claims with their types checked, from a payload jose has already verified
 * (signature, `iss`, `aud`, `exp`, `nbf`). jose checks `iat` in the future only with
 * `maxTokenAge`, which handles do not have, so that check is here.
 */
export function readClaims(payload: JWTPayload, nowSeconds: number, toleranceSeconds: number): TaskHandleClaims {
  const { ops, iat, exp } = payload;
  if (!Array.isArray(ops) || !ops.every(isTaskOp)) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim ops must be an array of task operations", "ops");
  }
  if (typeof iat !== "number" || typeof exp !== "number") {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claims iat and exp must be numbers", typeof iat !== "number" ? "iat" : "exp");
  }
  if (iat > nowSeconds + toleranceSeconds) throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim iat is in the future", "iat");
  const claims: TaskHandleClaims = {
    iss: text(payload, "iss"),
    // A handle names exactly one audience; an array is not a handle taskward minted.
    aud: text(payload, "aud"),
    sub: text(payload, "sub"),
    tenant: text(payload, "tenant"),
    client_id: text(payload, "client_id"),
    jti: text(payload, "jti"),
    iat,
    exp,
    task: text(payload, "task"),
    tool: text(payload, "tool"),
    ops,
    mcp: text(payload, "mcp"),
  };
  if (payload.act !== undefined) claims.act = payload.act as TaskHandleClaims["act"];
  if (payload.parent !== undefined) claims.parent = text(payload, "parent");
  if (payload.cnf !== undefined) claims.cnf = payload.cnf as TaskHandleClaims["cnf"];
  return claims;
}
