import type { Classified } from "../../mcp/classify.js";
import { isObject } from "../../mcp/envelope.js";
import { authorizeSubscriptions } from "../authorize-follow-up.js";
import { outboundRewriter, reencoded, type ForwardPlan, type RouteContext } from "./plan.js";

/**
 * subscriptions/listen with task ids: each handle is authorized like a `get` (refused ones are
 * left out of the forwarded filter); notifications carry a result payload only for handles
 * allowed `result`.
 */
export async function planListen(context: RouteContext, classified: Extract<Classified, { route: "listen" }>): Promise<ForwardPlan> {
  const { module } = context.revision;
  const { request, handles } = classified;
  if (!module.listenAllowed(request.params)) throw module.capabilityRefusal(request.method);
  const subscriptions = await authorizeSubscriptions(handles, module, context.principal, await context.keyRing(), context.config, context.env);
  const notifications = isObject(request.params?.notifications) ? request.params.notifications : {};
  const params = { ...request.params, notifications: { ...notifications, taskIds: subscriptions.map((s) => s.taskId) } };
  return {
    message: reencoded(request, context, params),
    // The origin can re-verify every subscribed task: their origin-facing handles travel comma-separated.
    ...(subscriptions.length > 0 ? { handle: subscriptions.map((s) => s.originHandle).join(", ") } : {}),
    asserted: { op: "listen", tasks: subscriptions.map((s) => s.taskId) },
    mapResponse: outboundRewriter(context, request, { subscriptions }),
  };
}
