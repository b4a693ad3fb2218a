/**
 * The caller, with proof of possession: the bearer credential is authenticated as before, then a
 * DPoP proof (RFC 9449), when sent or required, is verified against this request and the token's
 * `cnf.jkt`. The proof's `jti` is spent later, in the ledger call the request makes anyway.
 */
import type { Config, WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import { authenticate } from "./authenticate.js";
import { DPOP_ALGORITHMS, DPOP_HEADER, DpopProofError, verifyDpopProof } from "./dpop.js";
import type { Principal } from "./principal.js";

/** The DPoP challenge (RFC 9449 §7.1), with an error code when a proof was refused. */
export function dpopChallenge(error?: "invalid_dpop_proof"): string {
  const algs = `algs="${DPOP_ALGORITHMS.join(" ")}"`;
  return error ? `DPoP error="${error}", ${algs}` : `DPoP ${algs}`;
}

/** A refused proof: 401 with the DPoP challenge; `detail` (the real reason) goes to logs, not the wire. */
export function invalidProof(detail: string): Refusal {
  return new Refusal("invalid_dpop_proof", detail, undefined, undefined, { "www-authenticate": dpopChallenge("invalid_dpop_proof") });
}

export function proofRequired(detail: string): Refusal {
  return new Refusal("dpop_required", detail, undefined, undefined, { "www-authenticate": dpopChallenge() });
}

/** Authenticates the request's credential and its DPoP proof; a principal that proved a key carries `jkt` and the proof to spend. */
export async function authenticateCaller(request: Request, config: Config, env: WorkerEnv): Promise<Principal> {
  const authorization = request.headers.get("authorization") ?? undefined;
  const principal = await authenticate(authorization, config, env);
  const dpopScheme = /^DPoP /.test(authorization ?? "");
  const proof = request.headers.get(DPOP_HEADER);
  if (proof === null) {
    if (dpopScheme) throw invalidProof("Authorization: DPoP without a DPoP proof");
    if (principal.boundJkt !== undefined) throw invalidProof("the access token is DPoP-bound (cnf.jkt) and no proof was sent");
    if (config.dpop.boundTokensRequired) throw proofRequired("DPOP_BOUND_ACCESS_TOKENS_REQUIRED is on");
    return principal;
  }
  // RFC 9449 §7.2: a DPoP-bound token is never accepted as a plain bearer token.
  if (principal.boundJkt !== undefined && !dpopScheme) throw invalidProof("a DPoP-bound access token was sent with the Bearer scheme");
  let verified;
  try {
    verified = await verifyDpopProof(proof, {
      method: request.method,
      url: request.url,
      accessToken: authorization!.slice(authorization!.indexOf(" ") + 1),
      maxSkewSeconds: config.dpop.maxSkewSeconds,
    });
  } catch (error) {
    if (error instanceof DpopProofError) throw invalidProof(`${error.code}: ${error.message}`);
    throw error;
  }
  if (principal.boundJkt !== undefined && principal.boundJkt !== verified.jkt) throw invalidProof("the proof is not by the key the access token is bound to");
  if (config.dpop.boundTokensRequired && principal.boundJkt === undefined) throw proofRequired("the access token is not DPoP-bound and DPOP_BOUND_ACCESS_TOKENS_REQUIRED is on");
  // A copy: the verified-token cache holds the principal without any per-request proof.
  return { ...principal, jkt: verified.jkt, proof: { key: `${verified.jkt}.${verified.jti}`, expiresAt: verified.acceptableUntil } };
}
