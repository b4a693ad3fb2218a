import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet } from "jose";
import { TaskHandleError } from "../handle/errors.js";
import { verifyHandle } from "../handle/verify.js";
import type { HandleKeyResolver } from "../handle/verify.js";
import type { TaskHandleClaims } from "../handle/claims.js";

export interface VerifyTaskHandleOptions {
  /** taskward's URL: the handles' `iss`. */
  issuer: string;
  /** This origin's canonical MCP resource URI: the handles' `aud`. */
  audience: string;
  /** taskward's public keys: the JWKS document itself, or its URL (fetched and cached). */
  jwks: JSONWebKeySet | URL;
  clockToleranceSeconds?: number;
}

const remoteSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function resolverFor(jwks: JSONWebKeySet | URL): HandleKeyResolver {
  const keySet =
    jwks instanceof URL
      ? (remoteSets.get(jwks.href) ?? remoteSets.set(jwks.href, createRemoteJWKSet(jwks)).get(jwks.href)!)
      : createLocalJWKSet(jwks);
  return async (kid, alg) => {
    try {
      return (await keySet({ kid, alg }, { payload: "", signature: "" } as never)) as CryptoKey;
    } catch (error) {
      throw new TaskHandleError("ERR_HANDLE_KID_UNKNOWN", `kid ${kid} is not in the issuer's JWKS: ${(error as Error).message}`);
    }
  };
}

/**
 * Verifies a taskward task handle statelessly, as an origin MCP server does on each forwarded
 * follow-up. Returns the handle's claims (including `task`, the origin's own task id, and the
 * principal `tenant` / `client_id` / `sub`); throws TaskHandleError with a stable `code`.
 */
export async function verifyTaskHandle(token: string, options: VerifyTaskHandleOptions): Promise<TaskHandleClaims & { task: string }> {
  const resolveKey = resolverFor(options.jwks);
  const claims = await verifyHandle(token, {
    issuer: options.issuer,
    audience: options.audience,
    resolveKey,
    clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
  });
  // Only the copy taskward forwards names the origin's task; a handle taken from a client does not.
  if (typeof claims.task !== "string") throw new TaskHandleError("ERR_HANDLE_CLAIM", "claim task is missing: not a handle taskward forwarded", "task");
  return claims as TaskHandleClaims & { task: string };
}
