/** Task policy: per-tool task support, TTL caps, allowed operations, binding and step-up. */
export {
  parseTaskPolicy,
  policyFor,
  opsFor,
  effectiveTtlMs,
  ttlCapSeconds,
  DEFAULT_TOOL_POLICY,
  BINDABLE_FIELDS,
  type TaskPolicy,
  type ToolPolicy,
  type BindableField,
} from "./task-policy.js";
export { applyTaskSupportPolicy } from "./tools-list.js";
