import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet } from "jose";
import { HANDLE_ALGORITHMS, HANDLE_TYP, MAX_HANDLE_LENGTH } from "../handle/claims.js";
import type { TaskHandleClaims } from "./claims.js";
import { TaskHandleError } from "../handle/errors.js";
import { handleKeySet } from "./key-set.js";
import { REQUIRED_CLAIMS, readClaims } from "./read-claims.js";

export interface VerifyTaskHandleOptions {
  /** taskward's URL: the handles' `iss`. */
  issuer: string;
  /** This origin's canonical MCP resource URI: the handles' `aud`. */
  audience: string;
  /** taskward's public keys: the JWKS document itself, or its URL (fetched and cached). */
  jwks: JSONWebKeySet | URL;
  /** Seconds of clock skew tolerated for `exp`, `nbf` and `iat`. Default 5. */
  clockToleranceSeconds?: number;
}

/** Header parameters that would let a token pick its own key; never honoured, always refused. */
const KEY_SELECTING_HEADERS = ["jku", "x5u", "jwk", "x5c"] as const;

/** What jose does not check for us: size, a `kid` to select by, no key-selecting headers. */
function checkHeader(token: string): void {
  if (token.length > MAX_HANDLE_LENGTH) throw new TaskHandleError("ERR_HANDLE_TOO_LONG", `handle is longer than ${MAX_HANDLE_LENGTH} characters`);
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TaskHandleError("ERR_HANDLE_MALFORMED", "handle is not a compact JWS with a JSON header");
  }
  for (const name of KEY_SELECTING_HEADERS) {
    if (name in header) throw new TaskHandleError("ERR_HANDLE_HEADER_NOT_ALLOWED", `header parameter ${name} is not allowed`);
  }
  if (typeof header.kid !== "string" || header.kid.length === 0) throw new TaskHandleError("ERR_HANDLE_KID_MISSING", "handle header has no kid");
}

function translateJoseError(error: unknown): TaskHandleError {
  if (error instanceof TaskHandleError) return error;
  if (error instanceof joseErrors.JWTExpired) return new TaskHandleError("ERR_HANDLE_EXPIRED", "handle has expired", "exp");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "typ") return new TaskHandleError("ERR_HANDLE_TYP", `typ must be ${HANDLE_TYP}`);
    if (error.claim === "nbf") return new TaskHandleError("ERR_HANDLE_NOT_YET_VALID", "handle is not yet valid", "nbf");
    return new TaskHandleError("ERR_HANDLE_CLAIM", `claim ${error.claim}: ${error.message}`, error.claim);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new TaskHandleError("ERR_HANDLE_SIGNATURE", "handle signature does not verify");
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new TaskHandleError("ERR_HANDLE_ALG_NOT_ALLOWED", error.message);
  if (error instanceof joseErrors.JOSEError) return new TaskHandleError("ERR_HANDLE_MALFORMED", error.message);
  return new TaskHandleError("ERR_HANDLE_MALFORMED", "handle could not be verified");
}

/**
 * Verifies a taskward task handle statelessly, as an origin MCP server does on each forwarded
 * follow-up, through jose's `jwtVerify` (an origin verifies once per call; the edge keeps its
 * own tuned path). Returns the claims (`task` is the origin's own task id; `tenant` /
 * `client_id` / `sub` say who created it); throws TaskHandleError with a stable `code`. Only the
 * copy taskward forwards names the task: a handle taken from a client fails with claim `task`.
 */
export async function verifyTaskHandle(token: string, options: VerifyTaskHandleOptions): Promise<TaskHandleClaims> {
  const tolerance = options.clockToleranceSeconds ?? 5;
  try {
    checkHeader(token);
    const { payload } = await jwtVerify(token, handleKeySet(options.jwks), {
      algorithms: [...HANDLE_ALGORITHMS],
      typ: HANDLE_TYP,
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: REQUIRED_CLAIMS,
      clockTolerance: tolerance,
    });
    return readClaims(payload, Math.floor(Date.now() / 1000), tolerance);
  } catch (error) {
    throw translateJoseError(error);
  }
}
