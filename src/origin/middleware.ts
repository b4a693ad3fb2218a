import type { MiddlewareHandler } from "hono";
import { TaskHandleError } from "../handle/errors.js";
import type { TaskHandleClaims } from "../handle/claims.js";
import { TASK_HANDLE_HEADER } from "../mcp/headers.js";
import { verifyTaskHandle, type VerifyTaskHandleOptions } from "./verify-task-handle.js";

export interface TaskHandleMiddlewareOptions extends VerifyTaskHandleOptions {
  /** Refuse requests that carry no handle. Default false: only present handles are checked. */
  required?: boolean;
}

export type TaskHandleVariables = { taskHandle?: TaskHandleClaims };

/**
 * Hono middleware: verifies the `Taskward-Task-Handle` header taskward adds (in its
 * FORWARD_TASK_HANDLE_HEADER compatibility mode) to forwarded
 * follow-ups and exposes the claims as `c.get("taskHandle")`. A bad handle answers 403.
 */
export function taskHandleMiddleware(options: TaskHandleMiddlewareOptions): MiddlewareHandler<{ Variables: TaskHandleVariables }> {
  return async (c, next) => {
    const token = c.req.header(TASK_HANDLE_HEADER);
    if (!token) {
      if (options.required) return c.json({ error: "task_handle_required", code: "ERR_HANDLE_MISSING" }, 403);
      return next();
    }
    try {
      c.set("taskHandle", await verifyTaskHandle(token, options));
    } catch (error) {
      const code = error instanceof TaskHandleError ? error.code : "ERR_HANDLE_MALFORMED";
      return c.json({ error: "invalid_task_handle", code }, 403);
    }
    return next();
  };
}
