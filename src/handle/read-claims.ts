import type { JWTPayload } from "jose";
import { isTaskOp, type TaskHandleClaims } from "./claims.js";
import { TaskHandleError } from "./errors.js";

function requireString(payload: JWTPayload, claim: string): string {
  const value = payload[claim];
  if (typeof value !== "string" || value.length === 0) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", `claim ${claim} must be a non-empty string`, claim);
  }
  return value;
}

/**
 * A verified payload's claims with each one's type checked (one audience, as a string; `ops` task
 * operations; numeric `iat` and `exp`); shared by the edge's verifier and `taskward/origin`.
 */
export function readHandleClaims(payload: JWTPayload): TaskHandleClaims {
  const ops = payload.ops;
  if (!Array.isArray(ops) || !ops.every(isTaskOp)) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim ops must be an array of task operations", "ops");
  }
  if (typeof payload.iat !== "number" || typeof payload.exp !== "number") {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claims iat and exp must be numbers", typeof payload.iat !== "number" ? "iat" : "exp");
  }
  const claims: TaskHandleClaims = {
    iss: requireString(payload, "iss"),
    aud: requireString(payload, "aud"),
    sub: requireString(payload, "sub"),
    tenant: requireString(payload, "tenant"),
    client_id: requireString(payload, "client_id"),
    jti: requireString(payload, "jti"),
    iat: payload.iat,
    exp: payload.exp,
    ...(payload.task === undefined ? {} : { task: requireString(payload, "task") }),
    tool: requireString(payload, "tool"),
    ops,
    mcp: requireString(payload, "mcp"),
  };
  if (payload.act !== undefined) claims.act = payload.act as TaskHandleClaims["act"];
  if (payload.parent !== undefined) claims.parent = requireString(payload, "parent");
  if (payload.cnf !== undefined) claims.cnf = payload.cnf as TaskHandleClaims["cnf"];
  if (payload.shd !== undefined) {
    if (!Number.isInteger(payload.shd) || (payload.shd as number) < 0) throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim shd must be a non-negative integer", "shd");
    claims.shd = payload.shd as number;
  }
  return claims;
}
