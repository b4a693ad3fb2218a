import { TaskHandleError } from "../handle/errors.js";
import type { TaskHandleClaims } from "./claims.js";
import { TASK_HANDLE_HEADER } from "../mcp/headers.js";
import { verifyTaskHandle, type VerifyTaskHandleOptions } from "./verify-task-handle.js";

export interface TaskHandleMiddlewareOptions extends VerifyTaskHandleOptions {
  /** Refuse requests that carry no handle. Default false: only present handles are checked. */
  required?: boolean;
}

export type TaskHandleVariables = { taskHandle?: TaskHandleClaims };

/** The part of Hono's `Context` the middleware uses, so the package's types do not need hono. */
export interface TaskHandleContext {
  req: { header(name: string): string | undefined };
  set(key: "taskHandle", value: TaskHandleClaims): void;
  json(body: { error: string; code: string }, status: 403): Response;
}

/**
 * Hono middleware: verifies the `Taskward-Task-Handle` header taskward adds (in its
 * FORWARD_TASK_HANDLE_HEADER compatibility mode) to forwarded
 * follow-ups and exposes the claims as `c.get("taskHandle")`. A bad handle answers 403.
 */
export function taskHandleMiddleware(options: TaskHandleMiddlewareOptions): (c: TaskHandleContext, next: () => Promise<void>) => Promise<Response | void> {
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
