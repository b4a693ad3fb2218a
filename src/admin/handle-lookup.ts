import type { Config } from "../config.js";
import type { TaskHandleClaims } from "../handle/claims.js";
import { keyRingResolver } from "../handle/resolve.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { verifyOwnHandle } from "../handle/verify-cached.js";
import { verifyHandle } from "../handle/verify.js";

/**
 * Claims of a handle signed by this authority, for operator and token endpoints. With
 * `ignoreExpiry`, an expired handle still yields its claims (it can still be revoked or inspected).
 */
export async function claimsOfOwnHandle(token: string, config: Config, ignoreExpiry = false): Promise<TaskHandleClaims | undefined> {
  const keyRing = await signingKeyRing(config);
  if (!keyRing) return undefined;
  const verified = ignoreExpiry
    ? verifyHandle(token, { issuer: config.issuer, audience: config.handleAudience, resolveKey: keyRingResolver(keyRing), clockToleranceSeconds: 10 * 365 * 86_400 })
    : verifyOwnHandle(token, keyRing, config.issuer, config.handleAudience);
  return verified.catch(() => undefined);
}
