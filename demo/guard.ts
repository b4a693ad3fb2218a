/**
 * Handle verification, as a real origin behind taskward does it: every task follow-up must carry
 * a `Taskward-Task-Handle` header whose handle verifies and names the very task the request is
 * about. Refusals read "Task not found", so a caller learns nothing about tasks it holds no
 * handle for.
 */
import type { IncomingMessage } from "node:http";
import type { JSONWebKeySet } from "jose";
import { TASK_HANDLE_HEADER, verifyTaskHandle } from "../src/origin/index.js";

export interface HandleGuard {
  verification?: { issuer: string; audience: string; jwks: JSONWebKeySet | URL };
  requireHandle: boolean;
}

/** 2025-11-25 follow-ups that name a task in params.taskId and so must carry a handle for that task. */
export const LEGACY_GUARDED_METHODS: ReadonlySet<string> = new Set(["tasks/get", "tasks/result", "tasks/cancel"]);

/**
 * The handles a request carries: one for a follow-up about one task; for subscriptions/listen
 * (2026-07-28), which may name several tasks, a comma-separated list (a JWS has no commas).
 */
export function handlesOf(req: IncomingMessage, list = false): string[] {
  const value = req.headers[TASK_HANDLE_HEADER.toLowerCase()];
  const raw = Array.isArray(value) ? value.join(",") : value;
  if (raw === undefined) return [];
  return list ? raw.split(",").map((handle) => handle.trim()).filter((handle) => handle.length > 0) : [raw];
}

/** True when `taskId` may be acted on: a carried handle verifies and names it (or no handle is required and none is sent). */
export async function handleAllows(guard: HandleGuard, taskId: string, handles: string[]): Promise<boolean> {
  if (handles.length === 0) return !guard.requireHandle;
  if (!guard.verification) return true;
  for (const handle of handles) {
    try {
      const claims = await verifyTaskHandle(handle, guard.verification);
      if (claims.task === taskId) return true;
    } catch {
      // try the next one
    }
  }
  return false;
}
