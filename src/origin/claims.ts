import type { TaskHandleClaims as HandleClaims } from "../handle/claims.js";

/** The claims an origin verifies: the copy of a handle taskward forwards always names the origin's own task. */
export type TaskHandleClaims = HandleClaims & { task: string };
