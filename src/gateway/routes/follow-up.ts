import type { Classified } from "../../mcp/classify.js";
import { moduleFor } from "../../mcp/revisions/index.js";
import { authorizeFollowUp, FollowUpRefused, type AuthorizedFollowUp } from "../authorize-follow-up.js";
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
  // Without the declaration only a handle of a revision that lifts the requirement may be used
  // (dual serving). Every id still goes through the same audited, rate-limited decision first, and
  // any refusal becomes the capability error: a forged handle, another principal's valid handle and
  // a non-handle all get the same answer, so the answer is no validity oracle.
  const undeclared = module.followUpNeedsDeclaration(request.params, module);
  let authorized: AuthorizedFollowUp;
  try {
    authorized = await authorizeFollowUp(handle, op, module, context.principal, keyRing, context.config, context.env, { proof: context.principal.proof, txn: context.txn });
  } catch (error) {
    if (undeclared && error instanceof FollowUpRefused) throw module.capabilityRefusal(request.method);
    throw error;
  }
  if (undeclared && module.followUpNeedsDeclaration(request.params, moduleFor(authorized.claims.mcp))) throw module.capabilityRefusal(request.method);
  const { claims, taskId, originHandle, status, resultAllowed } = authorized;
  return {
    message: reencoded(request, context, { ...request.params, taskId }),
    // The origin verifies its own copy of the handle (same jti, naming its task).
    handle: originHandle,
    taskFollowUp: true,
    asserted: { op, task: taskId, handleJti: claims.jti },
    mapResponse: outboundRewriter(context, request, { followUp: { handle, claims, taskId, status, resultAllowed } }),
  };
}
