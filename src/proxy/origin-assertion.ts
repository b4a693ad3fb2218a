/**
 * Per-call origin assertions: for every call it forwards after deciding, taskward signs a fresh,
 * short-lived statement of what it decided (modelled on OAuth transaction tokens), so an origin
 * can verify each call statelessly and sees a revocation within the assertion's lifetime.
 * `taskward/origin` verifies it (src/origin/verify-origin-assertion.ts).
 */
import { SignJWT, base64url } from "jose";
import type { Principal } from "../auth/principal.js";
import type { KeyRing } from "../handle/keyring.js";
import { newJti } from "../handle/mint.js";
import { ORIGIN_ASSERTION_TYP, type OriginAssertionClaims, type OriginAssertionOp } from "../origin/origin-assertion-claims.js";

export { ORIGIN_ASSERTION_HEADER } from "../origin/origin-assertion-claims.js";

export interface OriginAssertionInput {
  keyRing: KeyRing;
  /** taskward's issuer URL. */
  issuer: string;
  /** The origin's resource URI (the handles' audience). */
  audience: string;
  ttlSeconds: number;
  /** Who the call is decided for (for a supervisory cancel: the task's owner). */
  principal: Pick<Principal, "tenant" | "clientId" | "subject" | "jkt">;
  op: OriginAssertionOp;
  /** The transaction id, also written into the decision's audit event. */
  txn: string;
  /** The exact body bytes forwarded. */
  body: Uint8Array;
  /** The origin task id (absent on creation). */
  task?: string;
  /** Several origin task ids (subscriptions/listen). */
  tasks?: string[];
  /** The jti of the handle the call was authorized with. */
  handleJti?: string;
  now?: () => number;
}

/** A transaction id: 128 random bits, base64url. */
export function newTransactionId(): string {
  return newJti();
}

/** base64url(SHA-256(bytes)): the `req_digest` claim. */
export async function bodyDigest(body: Uint8Array): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
}

/** Signs the assertion for one forwarded call with the key ring's active key. */
export async function signOriginAssertion(input: OriginAssertionInput): Promise<string> {
  const iat = Math.floor((input.now?.() ?? Date.now()) / 1000);
  const claims: OriginAssertionClaims = {
    iss: input.issuer,
    aud: input.audience,
    iat,
    exp: iat + input.ttlSeconds,
    jti: newJti(),
    txn: input.txn,
    tenant: input.principal.tenant,
    client_id: input.principal.clientId,
    sub: input.principal.subject,
    op: input.op,
    req_digest: await bodyDigest(input.body),
    ...(input.task !== undefined ? { task: input.task } : {}),
    ...(input.tasks !== undefined ? { tasks: input.tasks } : {}),
    ...(input.handleJti !== undefined ? { handle_jti: input.handleJti } : {}),
    ...(input.principal.jkt !== undefined ? { cnf: { jkt: input.principal.jkt } } : {}),
  };
  const { signing } = input.keyRing;
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: ORIGIN_ASSERTION_TYP }).sign(signing.key);
}
