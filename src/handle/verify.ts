import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import { HANDLE_ALGORITHMS, HANDLE_TYP, MAX_HANDLE_LENGTH, isTaskOp, type HandleAlgorithm, type TaskHandleClaims } from "./claims.js";
import { TaskHandleError } from "./errors.js";

/** Finds the verification key for a `kid`; throws TaskHandleError(ERR_HANDLE_KID_UNKNOWN) if none. */
export type HandleKeyResolver = (kid: string, alg: HandleAlgorithm) => Promise<CryptoKey | Uint8Array> | CryptoKey | Uint8Array;

export interface VerifyHandleOptions {
  issuer: string;
  audience: string;
  resolveKey: HandleKeyResolver;
  /** Seconds of clock skew tolerated for exp/iat. Default 0. */
  clockToleranceSeconds?: number;
  /** Injected clock, for tests. */
  now?: () => number;
}

/** Header parameters that would let a token pick its own key; never honoured, always refused. */
const KEY_SELECTING_HEADERS = ["jku", "x5u", "jwk", "x5c"] as const;

function inspectHeader(token: string): ProtectedHeaderParameters & { alg: HandleAlgorithm; kid: string } {
  if (token.length > MAX_HANDLE_LENGTH) {
    throw new TaskHandleError("ERR_HANDLE_TOO_LONG", `handle is longer than ${MAX_HANDLE_LENGTH} characters`);
  }
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    throw new TaskHandleError("ERR_HANDLE_MALFORMED", "handle is not a compact JWS");
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TaskHandleError("ERR_HANDLE_MALFORMED", "handle header is not valid base64url JSON");
  }
  if (!(HANDLE_ALGORITHMS as readonly string[]).includes(header.alg ?? "")) {
    throw new TaskHandleError("ERR_HANDLE_ALG_NOT_ALLOWED", `alg ${JSON.stringify(header.alg)} is not allowed`);
  }
  if (header.typ !== HANDLE_TYP) {
    throw new TaskHandleError("ERR_HANDLE_TYP", `typ must be ${HANDLE_TYP}`);
  }
  for (const name of KEY_SELECTING_HEADERS) {
    if (name in header) throw new TaskHandleError("ERR_HANDLE_HEADER_NOT_ALLOWED", `header parameter ${name} is not allowed`);
  }
  if (typeof header.kid !== "string" || header.kid.length === 0) {
    throw new TaskHandleError("ERR_HANDLE_KID_MISSING", "handle header has no kid");
  }
  return header as ProtectedHeaderParameters & { alg: HandleAlgorithm; kid: string };
}

function translateJoseError(error: unknown): TaskHandleError {
  if (error instanceof TaskHandleError) return error;
  if (error instanceof joseErrors.JWTExpired) return new TaskHandleError("ERR_HANDLE_EXPIRED", "handle has expired", "exp");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return new TaskHandleError("ERR_HANDLE_NOT_YET_VALID", "handle is not yet valid", "nbf");
    return new TaskHandleError("ERR_HANDLE_CLAIM", `claim ${error.claim} ${error.reason}`, error.claim);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new TaskHandleError("ERR_HANDLE_SIGNATURE", "handle signature does not verify");
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new TaskHandleError("ERR_HANDLE_ALG_NOT_ALLOWED", error.message);
  if (error instanceof joseErrors.JOSEError) return new TaskHandleError("ERR_HANDLE_MALFORMED", error.message);
  return new TaskHandleError("ERR_HANDLE_MALFORMED", "handle could not be verified");
}

function requireString(payload: JWTPayload, claim: string): string {
  const value = payload[claim];
  if (typeof value !== "string" || value.length === 0) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", `claim ${claim} must be a non-empty string`, claim);
  }
  return value;
}

function readClaims(payload: JWTPayload): TaskHandleClaims {
  const ops = payload.ops;
  if (!Array.isArray(ops) || !ops.every(isTaskOp)) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim ops must be an array of task operations", "ops");
  }
  if (typeof payload.iat !== "number" || typeof payload.exp !== "number") {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claims iat and exp are required", typeof payload.iat !== "number" ? "iat" : "exp");
  }
  const claims: TaskHandleClaims = {
    iss: requireString(payload, "iss"),
    aud: typeof payload.aud === "string" ? payload.aud : requireString(payload, "aud"),
    sub: requireString(payload, "sub"),
    tenant: requireString(payload, "tenant"),
    client_id: requireString(payload, "client_id"),
    jti: requireString(payload, "jti"),
    iat: payload.iat,
    exp: payload.exp,
    task: requireString(payload, "task"),
    tool: requireString(payload, "tool"),
    ops,
    mcp: requireString(payload, "mcp"),
  };
  if (payload.act !== undefined) claims.act = payload.act as TaskHandleClaims["act"];
  if (payload.parent !== undefined) claims.parent = requireString(payload, "parent");
  if (payload.cnf !== undefined) claims.cnf = payload.cnf as TaskHandleClaims["cnf"];
  return claims;
}

/**
 * Verifies a task handle: allowlisted alg, `typ`, required `kid`, no key-selecting headers,
 * signature, `iss`, `aud`, `exp`, `iat` not in the future, and the shape of every claim.
 */
export async function verifyHandle(token: string, options: VerifyHandleOptions): Promise<TaskHandleClaims> {
  const header = inspectHeader(token);
  const tolerance = options.clockToleranceSeconds ?? 0;
  const nowSeconds = Math.floor((options.now?.() ?? Date.now()) / 1000);
  let payload: JWTPayload;
  try {
    const key = await options.resolveKey(header.kid, header.alg);
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [...HANDLE_ALGORITHMS],
      typ: HANDLE_TYP,
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: tolerance,
      currentDate: new Date(nowSeconds * 1000),
      requiredClaims: ["iss", "aud", "sub", "jti", "iat", "exp"],
    }));
  } catch (error) {
    throw translateJoseError(error);
  }
  const claims = readClaims(payload);
  if (claims.iat > nowSeconds + tolerance) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim iat is in the future", "iat");
  }
  return claims;
}
