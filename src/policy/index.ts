/** Task policy: which operations a handle allows and how long it lives. */
export { defaultOpsFor, effectiveTtlMs } from "./task-policy.js";
