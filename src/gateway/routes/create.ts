import { Refusal } from "../../errors.js";
import type { Classified } from "../../mcp/classify.js";
import { CreationSlot } from "../../ledger/creation-slot.js";
import { policyFor } from "../../policy/index.js";
import { proofRequired } from "../../auth/proof-of-possession.js";
import { outboundRewriter, reencoded, type ForwardPlan, type RouteContext } from "./plan.js";

/**
 * tools/call: per-tool task support enforced before the origin sees the call, the creation rate
 * limit for every call that asks for a task, and a handle minted for the CreateTaskResult the
 * decided revision defines (anything else shaped like one is treated as a task the caller may not know).
 */
export async function planCreate(context: RouteContext, classified: Extract<Classified, { route: "create" }>): Promise<ForwardPlan> {
  const { module } = context.revision;
  const { request, tool } = classified;
  const rules = policyFor(context.config.policy, tool);
  if (rules.requireProofOfPossession && !context.principal.jkt) throw proofRequired(`policy requires a DPoP proof for ${tool}`);
  const support = rules.taskSupport;
  let params = request.params ?? {};
  let asksForTask = module.asksForTask(params);
  if (asksForTask && support === "forbidden") {
    const outcome = module.forbiddenTaskRequest(tool);
    if (outcome instanceof Refusal) throw outcome;
    params = module.withoutTaskRequest(params);
    asksForTask = false;
  }
  if (!asksForTask && support === "required") throw module.requiredTaskRequest(tool);
  const keyRing = await context.keyRing();
  // Reserved atomically before forwarding (check and count in one ledger transaction), or 429.
  const slot = asksForTask ? await CreationSlot.reserve(context.env, context.principal) : undefined;
  const creation = { tool, version: context.revision.version, module, keyRing, txn: context.txn, originSession: context.originSession, callerRegion: context.callerRegion?.() };
  return {
    message: reencoded(request, context, params),
    asserted: { op: "create" },
    ...(slot ? { slot } : {}),
    mapResponse: outboundRewriter(context, request, { creation }, true, slot),
  };
}
