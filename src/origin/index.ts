/** `taskward/origin`: verify taskward task handles statelessly in an origin MCP server (built to dist/, jose only). */
export { verifyTaskHandle, type VerifyTaskHandleOptions } from "./verify-task-handle.js";
export { taskHandleMiddleware, type TaskHandleMiddlewareOptions, type TaskHandleVariables } from "./middleware.js";
export { TaskHandleError, type TaskHandleErrorCode } from "../handle/errors.js";
export type { TaskOp } from "../handle/claims.js";
export type { TaskHandleClaims } from "./claims.js";
export { TASK_HANDLE_HEADER } from "../mcp/headers.js";
