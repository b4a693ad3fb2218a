import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { TaskHandleError } from "../handle/errors.js";

// One jose key set per JWKS document or URL, so keys are imported (and fetched) once, not per call.
const remoteSets = new Map<string, JWTVerifyGetKey>();
const localSets = new WeakMap<JSONWebKeySet, JWTVerifyGetKey>();

function keySetOf(jwks: JSONWebKeySet | URL): JWTVerifyGetKey {
  if (jwks instanceof URL) {
    const known = remoteSets.get(jwks.href);
    if (known) return known;
    const created = createRemoteJWKSet(jwks);
    remoteSets.set(jwks.href, created);
    return created;
  }
  const known = localSets.get(jwks);
  if (known) return known;
  const created = createLocalJWKSet(jwks);
  localSets.set(jwks, created);
  return created;
}

/**
 * The issuer's keys as jose's `jwtVerify` wants them: a key set picked by `kid` and `alg`.
 * A key that cannot be found (or fetched) is ERR_HANDLE_KID_UNKNOWN.
 */
export function handleKeySet(jwks: JSONWebKeySet | URL): JWTVerifyGetKey {
  const keySet = keySetOf(jwks);
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      // jose tries each candidate of an ambiguous kid itself; that is not a missing key.
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      throw new TaskHandleError("ERR_HANDLE_KID_UNKNOWN", `kid ${header.kid} is not in the issuer's JWKS: ${(error as Error).message}`);
    }
  };
}
