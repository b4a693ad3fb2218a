import { ConfigError, policyVersionOf, requireUrl } from "../config.js";
import { parseTaskPolicy, type TaskPolicy } from "../policy/task-policy.js";

/** One MCP origin behind this authority: where calls go, the audience its handles carry, the task policy in force for it. */
export interface OriginConfig {
  /** Its path segment: served at /mcp/<name>. */
  name: string;
  url: string;
  /** `aud` of this origin's handles and origin assertions: its canonical resource URI (RFC 8707). */
  audience: string;
  policy: TaskPolicy;
  /** Names `policy` with MAX_TASK_TTL_SECONDS; recorded with each decision. */
  policyVersion: string;
  /** Also served at /mcp: the first ORIGINS entry, or the origin ORIGIN_URL alone configures. */
  isDefault: boolean;
}

const ORIGIN_NAME = /^[a-z0-9-]{1,32}$/;
const ENTRY_KEYS = new Set(["name", "url", "audience", "policy"]);

/**
 * ORIGINS (JSON) `[{"name", "url", "audience"?, "policy"?}]`, the first entry the default; without
 * it, ORIGIN_URL alone is one origin named `default`. An entry without `policy` runs under
 * TASK_POLICY. Names and audiences are unique: an audience is what keeps one origin's handles
 * from opening behind another.
 */
export function parseOrigins(originsJson: string | undefined, originUrl: string | undefined, basePolicy: TaskPolicy, maxTaskTtlSeconds: number): OriginConfig[] {
  if (originsJson === undefined || originsJson.trim() === "") {
    const url = requireUrl("ORIGIN_URL", originUrl);
    return [{ name: "default", url, audience: url, policy: basePolicy, policyVersion: policyVersionOf(basePolicy, maxTaskTtlSeconds), isDefault: true }];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(originsJson);
  } catch {
    throw new ConfigError("ORIGINS must be JSON: an array of {name, url, audience?, policy?}");
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new ConfigError("ORIGINS must be a non-empty JSON array of {name, url, audience?, policy?}");
  const origins = parsed.map((entry, index) => parseEntry(entry, index, basePolicy, maxTaskTtlSeconds));
  origins.forEach((origin, index) => {
    const sameName = origins.findIndex((other) => other.name === origin.name);
    if (sameName !== index) throw new ConfigError(`ORIGINS[${index}].name "${origin.name}" is already the name of ORIGINS[${sameName}]`);
    const sameAudience = origins.findIndex((other) => other.audience === origin.audience);
    if (sameAudience !== index) throw new ConfigError(`ORIGINS[${index}].audience "${origin.audience}" is already the audience of origin "${origins[sameAudience]!.name}": each origin needs its own`);
  });
  if (originUrl !== undefined && originUrl !== "" && requireUrl("ORIGIN_URL", originUrl) !== origins[0]!.url) {
    throw new ConfigError(`ORIGIN_URL (${originUrl}) differs from the default origin ORIGINS[0].url (${origins[0]!.url}): leave ORIGIN_URL unset or make them equal`);
  }
  return origins;
}

function parseEntry(entry: unknown, index: number, basePolicy: TaskPolicy, maxTaskTtlSeconds: number): OriginConfig {
  const at = `ORIGINS[${index}]`;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new ConfigError(`${at} must be an object {name, url, audience?, policy?}`);
  const item = entry as Record<string, unknown>;
  const unknownKey = Object.keys(item).find((key) => !ENTRY_KEYS.has(key));
  if (unknownKey !== undefined) throw new ConfigError(`${at} has unknown key "${unknownKey}" (allowed: name, url, audience, policy; the first entry is the default)`);
  if (typeof item.name !== "string" || !ORIGIN_NAME.test(item.name)) throw new ConfigError(`${at}.name must be 1-32 characters of a-z, 0-9 and -, got ${JSON.stringify(item.name)}`);
  const url = httpUrl(`${at}.url`, item.url);
  if (item.audience !== undefined && typeof item.audience !== "string") throw new ConfigError(`${at}.audience must be a string (the origin's resource URI)`);
  const audience = item.audience === undefined ? url : requireUrl(`${at}.audience`, item.audience);
  let policy = basePolicy;
  if (item.policy !== undefined) {
    if (typeof item.policy !== "object" || item.policy === null || Array.isArray(item.policy)) throw new ConfigError(`${at}.policy must be an object shaped like TASK_POLICY`);
    const parsed = parseTaskPolicy(JSON.stringify(item.policy));
    if ("problems" in parsed) throw new ConfigError(`${at}.policy: ${parsed.problems.map((p) => p.replace(/^TASK_POLICY\./, "")).join("; ")}`);
    policy = parsed.policy;
  }
  return { name: item.name, url, audience, policy, policyVersion: policyVersionOf(policy, maxTaskTtlSeconds), isDefault: index === 0 };
}

function httpUrl(name: string, value: unknown): string {
  const url = typeof value === "string" ? requireUrl(name, value) : undefined;
  if (url === undefined || !/^https?:$/.test(new URL(url).protocol)) throw new ConfigError(`${name} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  return url;
}
