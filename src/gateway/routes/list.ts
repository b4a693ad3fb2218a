import { Refusal } from "../../errors.js";
import { openCursor } from "../../handle/cursor.js";
import type { Classified } from "../../mcp/classify.js";
import { outboundRewriter, reencoded, type ForwardPlan, type RouteContext } from "./plan.js";

/** tasks/list (2025-11-25): the client's sealed cursor opens to the origin's; the answer lists only the caller's tasks. */
export async function planList(context: RouteContext, classified: Extract<Classified, { route: "list" }>): Promise<ForwardPlan> {
  const { request } = classified;
  const keyRing = await context.keyRing();
  const sealed = request.params?.cursor;
  if (sealed === undefined) return { message: reencoded(request, context), asserted: { op: "list" }, mapResponse: outboundRewriter(context, request, { listing: { keyRing } }) };
  const origin = typeof sealed === "string" ? await openCursor(sealed, context.principal, keyRing, context.config.issuer) : undefined;
  if (origin === undefined) throw new Refusal("invalid_params", "cursor", "Invalid params: cursor is not one this authority issued to you");
  return {
    message: reencoded(request, context, { ...request.params, cursor: origin }),
    asserted: { op: "list" },
    mapResponse: outboundRewriter(context, request, { listing: { keyRing, inboundCursor: { origin, sealed: sealed as string } } }),
  };
}
