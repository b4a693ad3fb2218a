import type { Classified } from "../../mcp/classify.js";
import { moduleFor } from "../../mcp/revisions/index.js";
import { verifyOwnHandle } from "../../handle/verify-cached.js";
import { authorizeFollowUp } from "../authorize-follow-up.js";
import { outboundRewriter, reencoded, type ForwardPlan, type RouteContext } from "./plan.js";

/**
 * tasks/get|result|update|cancel: the handle is verified and the ledger decides the operation the
 * method asks for; the origin receives its own task id. Whether the answer may carry the result
 * payload is decided with it (`resultAllowed`) and applied to the answer (operations by effect).
 */
export async function planFollowUp(context: RouteContext, classified: Extract<Classified, { route: "follow-up" }>): Promise<ForwardPlan> {
  const { module } = context.revision;
  const { request, handle, op } = classified;
  const keyRing = await context.keyRing();
  // Decided before the ledger is asked, so a non-handle id gets the capability error, not -32602;
  // the handle is read only when its revision could lift the requirement (cached: authorize verifies it again).
  if (module.followUpNeedsDeclaration(request.params, module)) {
    const minted = await verifyOwnHandle(handle, keyRing, context.config.issuer, context.config.handleAudience).catch(() => undefined);
    if (!minted || module.followUpNeedsDeclaration(request.params, moduleFor(minted.mcp))) throw module.capabilityRefusal(request.method);
  }
  const { claims, taskId, originHandle, status, resultAllowed } = await authorizeFollowUp(handle, op, module, context.principal, keyRing, context.config, context.env, { proof: context.principal.proof, txn: context.txn });
  return {
    message: reencoded(request, context, { ...request.params, taskId }),
    // The origin verifies its own copy of the handle (same jti, naming its task).
    handle: originHandle,
    taskFollowUp: true,
    asserted: { op, task: taskId, handleJti: claims.jti },
    mapResponse: outboundRewriter(context, request, { followUp: { handle, claims, taskId, status, resultAllowed } }),
  };
}
