import type { Classified } from "../../mcp/classify.js";
import { isObject, type JsonObject } from "../../mcp/envelope.js";
import { applyTaskSupportPolicy } from "../../policy/index.js";
import { withInboundRelatedTask } from "../inbound-related-task.js";
import { outboundRewriter, reencoded, type ForwardPlan, type RouteContext } from "./plan.js";

/**
 * Everything else: forwarded re-encoded, answers rewritten. `initialize` loses the client's offer
 * of client-hosted tasks; client responses and notifications name tasks by handle, swapped for
 * the origin's id; a tools/list answer shows the task support policy enforces.
 */
export async function planPassthrough(context: RouteContext, classified: Extract<Classified, { route: "passthrough" }>): Promise<ForwardPlan> {
  const { message } = classified;
  const rewrite = outboundRewriter(context, message);
  if (message.kind !== "request") {
    const raw = await withInboundRelatedTask(message.raw, context.principal, context.config, context.env);
    const forwarded = message.kind === "response" ? { ...message, raw } : { ...message, params: isObject(raw.params) ? raw.params : undefined, raw };
    return { message: reencoded(forwarded, context), asserted: MESSAGE, mapResponse: rewrite };
  }
  if (message.method === "initialize") return { message: reencoded(message, context, withoutClientHostedTasks(message.params)), asserted: MESSAGE, mapResponse: rewrite };
  if (message.method === "tools/list") {
    return {
      message: reencoded(message, context),
      asserted: MESSAGE,
      mapResponse: async (m) => {
        if (m.id === message.id && isObject(m.result)) applyTaskSupportPolicy(m.result, context.config.policy);
        return rewrite(m);
      },
    };
  }
  return { message: reencoded(message, context), asserted: MESSAGE, mapResponse: rewrite };
}

/** Anything that is not a task operation: the origin assertion says only who sends it. */
const MESSAGE = { op: "message" } as const;

/**
 * Client-hosted tasks (task-augmented sampling/elicitation) carry client-minted ids that flow the
 * other way; taskward does not broker them, so the client's offer is removed from `initialize`
 * and the origin never creates them.
 */
function withoutClientHostedTasks(params: JsonObject | undefined): JsonObject | undefined {
  const capabilities = params?.capabilities;
  const tasks = isObject(capabilities) && isObject(capabilities.tasks) ? capabilities.tasks : undefined;
  if (!params || !isObject(capabilities) || !tasks || !isObject(tasks.requests)) return params;
  const { sampling: _sampling, elicitation: _elicitation, ...requests } = tasks.requests;
  return { ...params, capabilities: { ...capabilities, tasks: { ...tasks, requests } } };
}
