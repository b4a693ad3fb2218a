import type { JWTPayload } from "jose";
import { readHandleClaims } from "../handle/read-claims.js";
import type { TaskHandleClaims } from "./claims.js";
import { TaskHandleError } from "../handle/errors.js";

/** The claims jose is asked to require before the shape of each is checked here. */
export const REQUIRED_CLAIMS = ["iss", "aud", "sub", "tenant", "client_id", "jti", "iat", "exp", "task", "tool", "ops", "mcp"];

/**
 * The handle's claims with their types checked, from a payload jose has already verified
 * (signature, `iss`, `aud`, `exp`, `nbf`). jose checks `iat` in the future only with
 * `maxTokenAge`, which handles do not have, so that check is here.
 */
export function readClaims(payload: JWTPayload, nowSeconds: number, toleranceSeconds: number): TaskHandleClaims {
  const claims = readHandleClaims(payload);
  if (claims.iat > nowSeconds + toleranceSeconds) throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim iat is in the future", "iat");
  // Only the copy taskward forwards names the origin's task (REQUIRED_CLAIMS makes jose insist too).
  if (claims.task === undefined) throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim task must be a non-empty string", "task");
  return claims as TaskHandleClaims;
}
