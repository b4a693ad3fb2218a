import type { Config } from "../config.js";
import { configForAudience, unverifiedAudienceOf } from "../origins/index.js";
import type { TaskHandleClaims } from "../handle/claims.js";
import { keyRingResolver } from "../handle/resolve.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { verifyOwnHandle } from "../handle/verify-cached.js";
import { verifyHandle } from "../handle/verify.js";

/**
 * A handle signed by this authority for one of its origins (found by the handle's `aud`; any other
 * audience yields nothing): its claims and the config of the origin it was minted for, for operator
 * and token endpoints. With `ignoreExpiry`, an expired handle still yields its claims (it can still
 * be revoked or inspected).
 */
export async function ownHandle(token: string, base: Config, ignoreExpiry = false): Promise<{ claims: TaskHandleClaims; config: Config } | undefined> {
  const config = configForAudience(base, unverifiedAudienceOf(token));
  const keyRing = config ? await signingKeyRing(config) : undefined;
  if (!config || !keyRing) return undefined;
  const verified = ignoreExpiry
    ? verifyHandle(token, { issuer: config.issuer, audience: config.handleAudience, resolveKey: keyRingResolver(keyRing), clockToleranceSeconds: 10 * 365 * 86_400 })
    : verifyOwnHandle(token, keyRing, config.issuer, config.handleAudience);
  const claims = await verified.catch(() => undefined);
  return claims ? { claims, config } : undefined;
}

/** The claims of `ownHandle`. */
export async function claimsOfOwnHandle(token: string, base: Config, ignoreExpiry = false): Promise<TaskHandleClaims | undefined> {
  return (await ownHandle(token, base, ignoreExpiry))?.claims;
}
