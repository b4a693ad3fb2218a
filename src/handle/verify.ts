import { base64url, decodeProtectedHeader, errors as joseErrors, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import { HANDLE_ALGORITHMS, HANDLE_TYP, MAX_HANDLE_LENGTH, type HandleAlgorithm, type TaskHandleClaims } from "./claims.js";
import { TaskHandleError } from "./errors.js";
import { readHandleClaims } from "./read-claims.js";

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

/** What a key resolver's failure means for the handle (the resolver is the only jose code on this path). */
function keyResolutionError(error: unknown): TaskHandleError {
  if (error instanceof TaskHandleError) return error;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new TaskHandleError("ERR_HANDLE_ALG_NOT_ALLOWED", error.message);
  if (error instanceof joseErrors.JOSEError) return new TaskHandleError("ERR_HANDLE_MALFORMED", error.message);
  return new TaskHandleError("ERR_HANDLE_MALFORMED", "handle could not be verified");
}

/** WebCrypto parameters per allowlisted alg, and the key algorithm each requires. */
const SIGNATURE_ALGORITHMS: Record<HandleAlgorithm, { verify: { name: string; hash?: string }; keyAlgorithm: string }> = {
  EdDSA: { verify: { name: "Ed25519" }, keyAlgorithm: "Ed25519" },
  ES256: { verify: { name: "ECDSA", hash: "SHA-256" }, keyAlgorithm: "ECDSA" },
};


function numericClaim(payload: JWTPayload, claim: "exp" | "iat" | "nbf", required: boolean): number | undefined {
  const value = payload[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TaskHandleError("ERR_HANDLE_CLAIM", `claim ${claim} must be a number`, claim);
  }
  return value;
}

/**
 * Verifies a task handle: allowlisted alg, `typ`, required `kid`, no key-selecting or `crit`
 * headers, signature, `iss`, `aud`, `exp`, `nbf`, `iat` not in the future, and the shape of every
 * claim. The signature is checked with WebCrypto directly against a key imported once, and each
 * segment is decoded once: this runs on every follow-up.
 */
export async function verifyHandle(token: string, options: VerifyHandleOptions): Promise<TaskHandleClaims> {
  const header = inspectHeader(token);
  if ("crit" in header) throw new TaskHandleError("ERR_HANDLE_MALFORMED", "crit header parameters are not supported");
  const tolerance = options.clockToleranceSeconds ?? 0;
  const nowSeconds = Math.floor((options.now?.() ?? Date.now()) / 1000);
  const key = await Promise.resolve()
    .then(() => options.resolveKey(header.kid, header.alg))
    .catch((error: unknown) => {
      throw keyResolutionError(error);
    });
  const algorithm = SIGNATURE_ALGORITHMS[header.alg];
  if (!(key instanceof CryptoKey) || key.algorithm.name !== algorithm.keyAlgorithm || !key.usages.includes("verify")) {
    throw new TaskHandleError("ERR_HANDLE_ALG_NOT_ALLOWED", `kid ${header.kid} is not a ${header.alg} verification key`);
  }
  const lastDot = token.lastIndexOf(".");
  const firstDot = token.indexOf(".");
  let signature: Uint8Array;
  let payload: JWTPayload;
  try {
    signature = base64url.decode(token.slice(lastDot + 1));
  } catch {
    throw new TaskHandleError("ERR_HANDLE_MALFORMED", "handle signature is not base64url");
  }
  // A signature of the wrong length makes some runtimes throw rather than answer false.
  const valid = await crypto.subtle.verify(algorithm.verify, key, signature, new TextEncoder().encode(token.slice(0, lastDot))).catch(() => false);
  if (!valid) throw new TaskHandleError("ERR_HANDLE_SIGNATURE", "handle signature does not verify");
  try {
    payload = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64url.decode(token.slice(firstDot + 1, lastDot)))) as JWTPayload;
  } catch {
    throw new TaskHandleError("ERR_HANDLE_MALFORMED", "handle payload is not base64url JSON");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) throw new TaskHandleError("ERR_HANDLE_MALFORMED", "handle payload is not a JSON object");
  if (payload.iss !== options.issuer) throw new TaskHandleError("ERR_HANDLE_CLAIM", 'claim iss unexpected "iss" claim value', "iss");
  if (payload.aud !== options.audience) throw new TaskHandleError("ERR_HANDLE_CLAIM", 'claim aud unexpected "aud" claim value', "aud");
  const exp = numericClaim(payload, "exp", true)!;
  if (exp <= nowSeconds - tolerance) throw new TaskHandleError("ERR_HANDLE_EXPIRED", "handle has expired", "exp");
  const nbf = numericClaim(payload, "nbf", false);
  if (nbf !== undefined && nbf > nowSeconds + tolerance) throw new TaskHandleError("ERR_HANDLE_NOT_YET_VALID", "handle is not yet valid", "nbf");
  const iat = numericClaim(payload, "iat", true)!;
  if (iat > nowSeconds + tolerance) throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim iat is in the future", "iat");
  return readHandleClaims(payload);
}
