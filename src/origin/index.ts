/** `taskward/origin`: verify taskward's per-call origin assertions (and, in compatibility mode, task handles) statelessly in an origin MCP server (built to dist/, jose only). */
export { verifyTaskHandle, type VerifyTaskHandleOptions } from "./verify-task-handle.js";
export { taskHandleMiddleware, type TaskHandleMiddlewareOptions, type TaskHandleVariables } from "./middleware.js";
export { TaskHandleError, type TaskHandleErrorCode } from "../handle/errors.js";
export type { TaskOp } from "../handle/claims.js";
export type { TaskHandleClaims } from "./claims.js";
export { TASK_HANDLE_HEADER } from "../mcp/headers.js";
export { verifyOriginAssertion, AssertionReplayCache, OriginAssertionError, type OriginAssertionErrorCode, type VerifyOriginAssertionOptions, type ReceivedCall } from "./verify-origin-assertion.js";
export { originAssertionMiddleware, type OriginAssertionVariables } from "./origin-assertion-middleware.js";
export { ORIGIN_ASSERTION_HEADER, ORIGIN_ASSERTION_TYP, type OriginAssertionClaims, type OriginAssertionOp } from "./origin-assertion-claims.js";
