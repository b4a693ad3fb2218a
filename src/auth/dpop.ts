/**
 * DPoP proof verification (RFC 9449 §4.3): the caller proves it holds the private key whose
 * public part it names, for this very request. Pure: the replay check (`jti` seen before) is the
 * ledger's, because only it sees every request of a tenant.
 */
import { base64url, calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload } from "jose";

export const DPOP_TYP = "dpop+jwt";
/** Asymmetric algorithms only; `none` and HMAC can never prove possession of a public key. */
export const DPOP_ALGORITHMS = ["EdDSA", "ES256"] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];
/** The request header carrying the proof. */
export const DPOP_HEADER = "DPoP";
/** Longest proof accepted: a JWS with an EC public key is well under 1 KiB. */
const MAX_PROOF_LENGTH = 4096;
const MAX_JTI_LENGTH = 256;
/** JWK members that belong to a private or symmetric key: a proof that carries one is refused. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;
/** Key type and curve each allowlisted alg must use; the public members that make up the key. */
const KEY_SHAPES: Record<DpopAlgorithm, { kty: string; crv: string; members: string[] }> = {
  EdDSA: { kty: "OKP", crv: "Ed25519", members: ["kty", "crv", "x"] },
  ES256: { kty: "EC", crv: "P-256", members: ["kty", "crv", "x", "y"] },
};

export type DpopErrorCode =
  | "ERR_DPOP_MALFORMED"
  | "ERR_DPOP_TYP"
  | "ERR_DPOP_ALG_NOT_ALLOWED"
  | "ERR_DPOP_JWK"
  | "ERR_DPOP_SIGNATURE"
  | "ERR_DPOP_HTM"
  | "ERR_DPOP_HTU"
  | "ERR_DPOP_IAT"
  | "ERR_DPOP_JTI"
  | "ERR_DPOP_ATH";

export class DpopProofError extends Error {
  override readonly name = "DpopProofError";
  constructor(
    readonly code: DpopErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface DpopRequest {
  /** The HTTP method of the request the proof came with. */
  method: string;
  /** The request URL; its query and fragment are ignored (RFC 9449 §4.3 step 9). */
  url: string;
  /** The access token presented with the proof; its hash must be the proof's `ath`. */
  accessToken?: string;
  /** How far `iat` may lie from now, either way. */
  maxSkewSeconds: number;
  now?: () => number;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  iat: number;
  /** When the proof stops being acceptable (ms since epoch): its replay-cache entry may go then. */
  acceptableUntil: number;
}

/** base64url(SHA-256(ASCII access token)): the `ath` claim (RFC 9449 §4.2). */
export async function accessTokenHash(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}

/** The comparable form of an HTTP URI: scheme and host lowercased, default port dropped, no query or fragment. */
export function normalizedHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function publicKeyOf(header: Record<string, unknown>, alg: DpopAlgorithm): JWK {
  const jwk = header.jwk;
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new DpopProofError("ERR_DPOP_JWK", "header jwk must be a JSON object");
  const members = jwk as Record<string, unknown>;
  for (const name of PRIVATE_MEMBERS) {
    if (name in members) throw new DpopProofError("ERR_DPOP_JWK", `header jwk carries the private or symmetric member ${name}`);
  }
  const shape = KEY_SHAPES[alg];
  if (members.kty !== shape.kty || members.crv !== shape.crv) throw new DpopProofError("ERR_DPOP_JWK", `alg ${alg} needs a ${shape.kty} ${shape.crv} key`);
  const key: Record<string, string> = {};
  for (const name of shape.members) {
    if (typeof members[name] !== "string") throw new DpopProofError("ERR_DPOP_JWK", `header jwk lacks ${name}`);
    key[name] = members[name] as string;
  }
  return key as JWK;
}

function checkHtu(payload: JWTPayload, requestUrl: string): void {
  const htu = payload.htu;
  if (typeof htu !== "string") throw new DpopProofError("ERR_DPOP_HTU", "claim htu must be a string");
  // §4.2: htu is the target URI without query and fragment; one that has them names another request.
  if (/[?#]/.test(htu)) throw new DpopProofError("ERR_DPOP_HTU", "claim htu must not carry a query or fragment");
  const expected = normalizedHtu(requestUrl);
  if (expected === undefined || normalizedHtu(htu) !== expected) throw new DpopProofError("ERR_DPOP_HTU", "claim htu does not name this request's URI");
}

/**
 * Verifies a DPoP proof for one request (RFC 9449 §4.3): one well-formed JWS, `typ: dpop+jwt`,
 * an allowlisted asymmetric `alg`, a public `jwk` header of the matching key type that verifies
 * the signature, `htm` and `htu` of this request, `iat` within the skew window, a `jti`, and the
 * access token's hash as `ath`. Returns the key thumbprint and the `jti` for the replay check.
 */
export async function verifyDpopProof(proof: string, request: DpopRequest): Promise<VerifiedDpopProof> {
  if (proof.length > MAX_PROOF_LENGTH) throw new DpopProofError("ERR_DPOP_MALFORMED", `proof is longer than ${MAX_PROOF_LENGTH} characters`);
  // One compact JWS: several DPoP headers arrive comma-joined and fail here.
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) throw new DpopProofError("ERR_DPOP_MALFORMED", "proof is not one compact JWS");
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch {
    throw new DpopProofError("ERR_DPOP_MALFORMED", "proof header is not base64url JSON");
  }
  if (header.typ !== DPOP_TYP) throw new DpopProofError("ERR_DPOP_TYP", `typ must be ${DPOP_TYP}`);
  const alg = header.alg;
  if (typeof alg !== "string" || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new DpopProofError("ERR_DPOP_ALG_NOT_ALLOWED", `alg ${JSON.stringify(alg)} is not one of ${DPOP_ALGORITHMS.join(", ")}`);
  }
  const jwk = publicKeyOf(header, alg as DpopAlgorithm);
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK(jwk, alg);
  } catch (error) {
    throw new DpopProofError("ERR_DPOP_JWK", `header jwk is not a usable ${alg} public key: ${(error as Error).message}`);
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(proof, key, { typ: DPOP_TYP, algorithms: [alg] }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") throw new DpopProofError("ERR_DPOP_SIGNATURE", "proof signature does not verify with its jwk");
    throw new DpopProofError("ERR_DPOP_MALFORMED", `proof is not a valid JWT: ${(error as Error).message}`);
  }
  if (payload.htm !== request.method) throw new DpopProofError("ERR_DPOP_HTM", `claim htm must be ${request.method}`);
  checkHtu(payload, request.url);
  const now = Math.floor((request.now?.() ?? Date.now()) / 1000);
  const iat = payload.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw new DpopProofError("ERR_DPOP_IAT", "claim iat must be a number");
  if (Math.abs(now - iat) > request.maxSkewSeconds) throw new DpopProofError("ERR_DPOP_IAT", `claim iat is more than ${request.maxSkewSeconds} s from now`);
  const jti = payload.jti;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new DpopProofError("ERR_DPOP_JTI", `claim jti must be a string of 1-${MAX_JTI_LENGTH} characters`);
  if (request.accessToken !== undefined && payload.ath !== (await accessTokenHash(request.accessToken))) {
    throw new DpopProofError("ERR_DPOP_ATH", "claim ath is not the hash of the presented access token");
  }
  return { jkt: await calculateJwkThumbprint(jwk, "sha256"), jti, iat, acceptableUntil: (iat + request.maxSkewSeconds + 1) * 1000 };
}
