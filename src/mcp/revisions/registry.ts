import { revision20251125 } from "./2025-11-25.js";
import { revision20260728 } from "./2026-07-28.js";
import type { RevisionModule } from "./index.js";

/** Oldest first; a version uses the newest module whose name is not later than it. */
export const REVISIONS: readonly RevisionModule[] = [revision20251125, revision20260728];

/** The revision assumed when a request names none (no header, no session): documented in the README. */
export const DEFAULT_REVISION = revision20251125.name;

/** The module that reads `version` (compared as strings): versions before 2026-07-28 speak the tasks utility. */
export function moduleFor(version: string): RevisionModule {
  let chosen = REVISIONS[0]!;
  for (const candidate of REVISIONS) if (version >= candidate.name) chosen = candidate;
  return chosen;
}
