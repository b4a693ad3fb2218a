import type { Classified } from "../../mcp/classify.js";
import { planCreate } from "./create.js";
import { planFollowUp } from "./follow-up.js";
import { planList } from "./list.js";
import { planListen } from "./listen.js";
import { planPassthrough } from "./passthrough.js";
import type { ForwardPlan, RouteContext } from "./plan.js";

export type { ForwardPlan, RouteContext } from "./plan.js";

/** Each route is a stage that returns a forward plan; none edits the request it is given. */
export function planRoute(context: RouteContext, classified: Classified): Promise<ForwardPlan> {
  switch (classified.route) {
    case "create":
      return planCreate(context, classified);
    case "follow-up":
      return planFollowUp(context, classified);
    case "list":
      return planList(context, classified);
    case "listen":
      return planListen(context, classified);
    case "passthrough":
      return planPassthrough(context, classified);
  }
}
