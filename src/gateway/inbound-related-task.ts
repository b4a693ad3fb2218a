import type { Principal } from "../auth/principal.js";
import type { Config, WorkerEnv } from "../config.js";
import { handleLedger } from "../ledger/ledger-client.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { proofBindingDenial } from "../handle/proof-binding.js";
import { verifyOwnHandle } from "../handle/verify-cached.js";
import { isObject, type JsonObject } from "../mcp/envelope.js";
import { RELATED_TASK_META } from "../mcp/revisions/index.js";

/**
 * A client's response or notification may name its task in `_meta[related-task]`. The returned
 * copy has the handle swapped for the origin id when it verifies and belongs to the caller;
 * otherwise the reference is removed, so the origin never sees a handle it cannot resolve or a
 * task the caller does not own.
 */
export async function withInboundRelatedTask(raw: JsonObject, principal: Principal, config: Config, env: WorkerEnv): Promise<JsonObject> {
  const copy: JsonObject = { ...raw };
  for (const key of ["params", "result"] as const) {
    const holder = raw[key];
    if (!isObject(holder) || !isObject(holder._meta)) continue;
    const related = holder._meta[RELATED_TASK_META];
    if (!isObject(related) || typeof related.taskId !== "string") continue;
    const originId = await originIdFor(related.taskId, principal, config, env);
    const { [RELATED_TASK_META]: _handle, ...meta } = holder._meta;
    copy[key] = { ...holder, _meta: originId ? { ...meta, [RELATED_TASK_META]: { ...related, taskId: originId } } : meta };
  }
  return copy;
}

async function originIdFor(handle: string, principal: Principal, config: Config, env: WorkerEnv): Promise<string | undefined> {
  const keyRing = await signingKeyRing(config);
  if (!keyRing) return undefined;
  const claims = await verifyOwnHandle(handle, keyRing, config.issuer, config.handleAudience).catch(() => undefined);
  // A key-bound handle belongs to the caller only while it proves that key (DPoP).
  const owned = claims && claims.tenant === principal.tenant && claims.client_id === principal.clientId && claims.sub === principal.subject && !proofBindingDenial(claims, principal);
  if (!owned) return undefined;
  // Client handles name no origin task: the ledger maps the jti (older handles still carry it).
  return claims.task ?? (await handleLedger(env, claims)?.task(claims.tenant, claims.jti))?.taskId;
}
