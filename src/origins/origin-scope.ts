import type { Config } from "../config.js";
import { Refusal } from "../errors.js";
import type { OriginConfig } from "./parse-origins.js";

/** The MCP endpoint path a request came in on: /mcp (the default origin) or /mcp/<name>. */
export type McpPath = { origin: OriginConfig; named: boolean };

const scopedConfigs = new WeakMap<Config, Map<string, Config>>();

/**
 * The config a request at `path` is served under: its origin's URL, handle audience and policy in
 * force, and the path's own resource URI (RFC 9728). One object per path, so per-config caches
 * (verified tokens, MAC keys) keep working.
 */
export function configAt(config: Config, path: McpPath): Config {
  let byPath = scopedConfigs.get(config);
  if (!byPath) scopedConfigs.set(config, (byPath = new Map()));
  const key = path.named ? path.origin.name : "";
  let scoped = byPath.get(key);
  if (!scoped) {
    const { origin } = path;
    scoped = {
      ...config,
      origin,
      originUrl: origin.url,
      handleAudience: origin.audience,
      policy: origin.policy,
      policyVersion: origin.policyVersion,
      resource: path.named ? `${config.issuer}/mcp/${origin.name}` : `${config.issuer}/mcp`,
    };
    byPath.set(key, scoped);
  }
  return scoped;
}

/**
 * The audiences a caller's access token may name at this path: the path's own resource URI, and
 * the authority's /mcp, which every origin path accepts (one resource server fronts them all).
 */
export function callerTokenAudiences(config: Config): string[] {
  const authority = `${config.issuer}/mcp`;
  return config.resource === authority ? [authority] : [config.resource, authority];
}

/** /mcp/<name> (or its metadata) for a name no origin has: said plainly, it names nothing secret. */
export function unknownOrigin(name: string): Refusal {
  return new Refusal("unknown_origin", name, `No origin named ${JSON.stringify(name)} is configured`);
}

/** The origin served at /mcp/<name>, or undefined. */
export function originNamed(config: Config, name: string): OriginConfig | undefined {
  return config.origins.find((origin) => origin.name === name);
}

/** The origin whose handles carry `audience`, or undefined. */
export function originWithAudience(config: Config, audience: unknown): OriginConfig | undefined {
  return config.origins.find((origin) => origin.audience === audience);
}

/** The config of the origin whose handles carry `audience` (served at its own path), or undefined. */
export function configForAudience(config: Config, audience: unknown): Config | undefined {
  const origin = originWithAudience(config, audience);
  return origin ? configAt(config, { origin, named: !origin.isDefault }) : undefined;
}
