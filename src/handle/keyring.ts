import { base64url, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { HANDLE_ALGORITHMS, type HandleAlgorithm } from "./claims.js";

/** The configured signing keys: one active key signs, every listed key verifies. */
export interface KeyRing {
  readonly activeKid: string;
  readonly signing: { kid: string; alg: HandleAlgorithm; key: CryptoKey };
  /** Public verification keys by kid. */
  readonly verifying: ReadonlyMap<string, { alg: HandleAlgorithm; key: CryptoKey }>;
  /** The public JWKS served at /.well-known/jwks.json. */
  readonly publicJwks: { keys: JWK[] };
  /**
   * Secret material of every private key, by kid: the input from which sealing keys are derived
   * (see seal.ts). Only the active kid seals; every listed private key unseals.
   */
  readonly sealingSecrets: ReadonlyMap<string, Uint8Array>;
}

export class KeyRingError extends Error {
  override readonly name = "KeyRingError";
  readonly code = "ERR_KEYRING_INVALID";
}

interface SigningJwksDocument {
  keys: JWK[];
  active?: string;
}

function isHandleAlgorithm(alg: unknown): alg is HandleAlgorithm {
  return typeof alg === "string" && (HANDLE_ALGORITHMS as readonly string[]).includes(alg);
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, key_ops: _ops, ext: _ext, ...pub } = jwk;
  return { ...pub, use: "sig" };
}

/**
 * Parses and imports a signing JWKS document `{"keys":[…private JWKs…],"active":"kid"}`.
 * Every key needs `kid` and an allowlisted `alg`; keys that are only public verify but
 * cannot be active.
 */
export async function loadKeyRing(document: string): Promise<KeyRing> {
  let parsed: SigningJwksDocument;
  try {
    parsed = JSON.parse(document) as SigningJwksDocument;
  } catch {
    throw new KeyRingError("HANDLE_SIGNING_JWKS is not JSON");
  }
  if (!parsed || !Array.isArray(parsed.keys) || parsed.keys.length === 0) {
    throw new KeyRingError("HANDLE_SIGNING_JWKS must be an object with a non-empty `keys` array");
  }
  const verifying = new Map<string, { alg: HandleAlgorithm; key: CryptoKey }>();
  const sealingSecrets = new Map<string, Uint8Array>();
  const publicKeys: JWK[] = [];
  let signing: KeyRing["signing"] | undefined;
  const activeKid = parsed.active ?? parsed.keys.find((k) => k.d)?.kid;
  for (const jwk of parsed.keys) {
    if (!jwk.kid) throw new KeyRingError("every key in HANDLE_SIGNING_JWKS needs a `kid`");
    if (!isHandleAlgorithm(jwk.alg)) {
      throw new KeyRingError(`key ${jwk.kid}: alg must be one of ${HANDLE_ALGORITHMS.join(", ")}`);
    }
    if (verifying.has(jwk.kid)) throw new KeyRingError(`duplicate kid ${jwk.kid}`);
    const pub = publicPart(jwk);
    verifying.set(jwk.kid, { alg: jwk.alg, key: (await importJWK(pub, jwk.alg)) as CryptoKey });
    publicKeys.push(pub);
    if (jwk.d) sealingSecrets.set(jwk.kid, base64url.decode(jwk.d));
    if (jwk.kid === activeKid) {
      if (!jwk.d) throw new KeyRingError(`active key ${jwk.kid} has no private part`);
      signing = { kid: jwk.kid, alg: jwk.alg, key: (await importJWK(jwk, jwk.alg)) as CryptoKey };
    }
  }
  if (!signing || !activeKid) throw new KeyRingError(`active kid ${activeKid ?? "(none)"} is not in keys`);
  return { activeKid, signing, verifying, publicJwks: { keys: publicKeys }, sealingSecrets };
}

/** Generates a private signing JWK (for the CLI, `npm start` and tests). */
export async function generateSigningJwk(alg: HandleAlgorithm = "EdDSA", kid?: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, kid: kid ?? `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}` };
}

/** A signing JWKS document with one fresh active key, as stored in HANDLE_SIGNING_JWKS. */
export async function generateSigningJwks(alg: HandleAlgorithm = "EdDSA"): Promise<string> {
  const jwk = await generateSigningJwk(alg);
  return JSON.stringify({ keys: [jwk], active: jwk.kid });
}
