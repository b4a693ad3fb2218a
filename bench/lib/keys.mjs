/** A fresh EdDSA signing JWKS for the bench Worker (same shape as HANDLE_SIGNING_JWKS). */
import { exportJWK, generateKeyPair } from "jose";

export async function generateSigningJwks(alg = "EdDSA") {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
  const kid = `bench-${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`;
  const jwk = { ...(await exportJWK(privateKey)), alg, kid };
  return { jwks: JSON.stringify({ keys: [jwk], active: kid }), kid };
}
