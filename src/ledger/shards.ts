import { LOCATION_HINTS } from "./placement.js";

/** Most ledger objects one tenant may be split over (LEDGER_SHARDS, LEDGER_SHARDS_BY_TENANT). */
export const MAX_LEDGER_SHARDS = 64;

/** How many ledger objects each tenant's handles spread over, and where shards are placed. */
export interface ShardConfig {
  /** LEDGER_SHARDS: the count of every tenant without an override (1: today's single object). */
  defaultCount: number;
  /** LEDGER_SHARDS_BY_TENANT: per-tenant counts. */
  byTenant: Record<string, number>;
  /** LEDGER_SHARD_LOCATIONS: shard index → the location hint its objects are created with, for every tenant. */
  locations: Record<number, DurableObjectLocationHint>;
}

export class ShardConfigError extends Error {
  override readonly name = "ShardConfigError";
}

/** A count: from LEDGER_SHARDS a string of digits, in LEDGER_SHARDS_BY_TENANT a JSON number. */
function shardCount(name: string, value: unknown): number {
  const parsed = typeof value === "string" && name === "LEDGER_SHARDS" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof parsed !== "number" || !Number.isInteger(parsed) || parsed < 1 || parsed > MAX_LEDGER_SHARDS) {
    throw new ShardConfigError(`${name} must be an integer from 1 to ${MAX_LEDGER_SHARDS}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

function jsonObject(name: string, text: string | undefined, example: string): Record<string, unknown> {
  if (text === undefined || text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ShardConfigError(`${name} must be a JSON object such as ${example}, got ${JSON.stringify(text)}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new ShardConfigError(`${name} must be a JSON object such as ${example}`);
  return parsed as Record<string, unknown>;
}

/** Parses LEDGER_SHARDS, LEDGER_SHARDS_BY_TENANT and LEDGER_SHARD_LOCATIONS; any bad value throws with what was wrong. */
export function parseShardConfig(shards: string | undefined, byTenant: string | undefined, locations: string | undefined): ShardConfig {
  const defaultCount = shards === undefined || shards === "" ? 1 : shardCount("LEDGER_SHARDS", shards);
  const counts: Record<string, number> = {};
  for (const [tenant, count] of Object.entries(jsonObject("LEDGER_SHARDS_BY_TENANT", byTenant, `{"acme": 4}`))) {
    counts[tenant] = shardCount(`LEDGER_SHARDS_BY_TENANT[${JSON.stringify(tenant)}]`, count);
  }
  const placed: Record<number, DurableObjectLocationHint> = {};
  for (const [index, hint] of Object.entries(jsonObject("LEDGER_SHARD_LOCATIONS", locations, `{"1": "weur", "2": "apac"}`))) {
    const shard = Number(index);
    if (!/^\d+$/.test(index) || shard >= MAX_LEDGER_SHARDS) throw new ShardConfigError(`LEDGER_SHARD_LOCATIONS keys must be shard indexes 0-${MAX_LEDGER_SHARDS - 1}, got ${JSON.stringify(index)}`);
    if (typeof hint !== "string" || !(LOCATION_HINTS as readonly string[]).includes(hint)) {
      throw new ShardConfigError(`LEDGER_SHARD_LOCATIONS[${index}] must be one of ${LOCATION_HINTS.join(", ")}, got ${JSON.stringify(hint)}`);
    }
    placed[shard] = hint as DurableObjectLocationHint;
  }
  return { defaultCount, byTenant: counts, locations: placed };
}

/** How many shards `tenant`'s ledger has now. */
export function shardCountFor(config: ShardConfig, tenant: string): number {
  return Object.hasOwn(config.byTenant, tenant) ? config.byTenant[tenant]! : config.defaultCount;
}

/**
 * The Durable Object name of one shard. Shard 0 keeps the name of the single per-tenant object
 * it replaces, so ledgers (and handles) from before sharding stay where they are; `#` cannot
 * occur in a tenant identifier, so no tenant's shard 0 is another tenant's shard k.
 */
export function shardObjectName(tenant: string, shard: number): string {
  return `tenant:${tenant}${shardSuffix(shard)}`;
}

/** The shards of `tenant`: 0 … count − 1. */
export function shardsOf(config: ShardConfig, tenant: string): number[] {
  return Array.from({ length: shardCountFor(config, tenant) }, (_, shard) => shard);
}

/** Round robin from a random start: consecutive creations in one isolate land on different shards. */
let nextPick = Math.floor(Math.random() * MAX_LEDGER_SHARDS);

/**
 * The shard a new handle of `tenant` is recorded in: among the shards placed in the caller's
 * region (`callerRegion`) when any are, else among all, in turn.
 */
export function shardForNewHandle(config: ShardConfig, tenant: string, callerRegion: DurableObjectLocationHint | undefined): number {
  const all = shardsOf(config, tenant);
  const regional = callerRegion === undefined ? [] : all.filter((shard) => config.locations[shard] === callerRegion);
  const candidates = regional.length > 0 ? regional : all;
  nextPick = (nextPick + 1) % 1_000_000;
  return candidates[nextPick % candidates.length]!;
}

/**
 * The shard a handle names (`shd`, absent: 0), or undefined when it names one `tenant` no longer
 * has: such a handle answers like an unknown task, because only the configured shards are
 * reached by tenant-, client- and subject-wide revocations.
 */
export function shardOfHandle(config: ShardConfig, claims: { tenant: string; shd?: number | undefined }): number | undefined {
  const shard = claims.shd ?? 0;
  return shard < shardCountFor(config, claims.tenant) ? shard : undefined;
}

/**
 * The shard that keeps the DPoP replay cache of one proof key (`jkt`): every proof of a key is
 * spent in the same shard, so a proof replayed with a handle of another shard is still seen. A
 * handle bound to that key (`cnf.jkt`) is recorded in that shard too, so its follow-ups stay one
 * round trip. FNV-1a over the thumbprint (itself a SHA-256) spreads keys evenly.
 */
export function shardForKey(config: ShardConfig, tenant: string, jkt: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < jkt.length; i++) hash = Math.imul(hash ^ jkt.charCodeAt(i), 0x01000193) >>> 0;
  return hash % shardCountFor(config, tenant);
}

/** The shard an object serves, read from its own name (`ctx.id.name`, as `shardObjectName` made it); 0 when it has none. */
export function shardOfObjectName(name: string | undefined): number {
  const match = name === undefined ? null : /#shard:(\d{1,2})$/.exec(name);
  return match ? Number(match[1]) : 0;
}

/** How a shard's audit events are told apart from other shards' outside the chain (SIEM ids, archive keys): nothing for shard 0. */
export function shardSuffix(shard: number): string {
  return shard === 0 ? "" : `#shard:${shard}`;
}
