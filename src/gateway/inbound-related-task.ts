import type { Principal } from "../auth/principal.js";
import type { Config } from "../config.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { proofBindingDenial } from "../handle/proof-binding.js";
import { verifyOwnHandle } from "../handle/verify-cached.js";
import { isObject, type JsonObject } from "../mcp/envelope.js";
import { RELATED_TASK_META } from "../mcp/revision.js";

/**
 * A client's response or notification may name its task in `_meta[related-task]`. The handle is
 * swapped for the origin id when it verifies and belongs to the caller; otherwise the reference
 * is removed, so the origin never sees a handle it cannot resolve or a task the caller does not own.
 */
export async function rewriteInboundRelatedTask(raw: JsonObject, principal: Principal, config: Config): Promise<void> {
  for (const holder of [raw.params, raw.result]) {
    if (!isObject(holder) || !isObject(holder._meta)) continue;
    const related = holder._meta[RELATED_TASK_META];
    if (!isObject(related) || typeof related.taskId !== "string") continue;
    const originId = await originIdFor(related.taskId, principal, config);
    if (originId) related.taskId = originId;
    else delete holder._meta[RELATED_TASK_META];
  }
}

async function originIdFor(handle: string, principal: Principal, config: Config): Promise<string | undefined> {
  const keyRing = await signingKeyRing(config);
  if (!keyRing) return undefined;
  const claims = await verifyOwnHandle(handle, keyRing, config.issuer, config.handleAudience).catch(() => undefined);
  // A key-bound handle belongs to the caller only while it proves that key (DPoP).
  const owned = claims && claims.tenant === principal.tenant && claims.client_id === principal.clientId && claims.sub === principal.subject && !proofBindingDenial(claims, principal);
  return owned ? claims.task : undefined;
}
