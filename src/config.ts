/** Worker env → typed, validated config. Parsed once per env object; a bad value fails loudly. */
import type { TaskLedger } from "./ledger/task-ledger.js";
import type { AuditShipment } from "./siem/audit-shipper.js";
import type { LedgerLimits } from "./ledger/types.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { parseTaskPolicy, type TaskPolicy } from "./policy/task-policy.js";
import { parseOrigins, type OriginConfig } from "./origins/index.js";
import { parseShardConfig, ShardConfigError, type ShardConfig } from "./ledger/shards.js";

/** Bindings from wrangler.toml plus the secrets `wrangler types` cannot see. */
export interface WorkerEnv extends Omit<Env, "TASK_LEDGER" | "ADMIN_TOKEN" | "SIEM_QUEUE" | "AUDIT_QUEUE" | "AUDIT_ARCHIVE"> {
  TASK_LEDGER: DurableObjectNamespace<TaskLedger>;
  /** Secret: {"keys":[private JWKs],"active":"kid"}. Optional only in dev mode. */
  HANDLE_SIGNING_JWKS?: string;
  /** Secret: the admin bearer credential. Without it, /admin answers 401 to everyone. */
  ADMIN_TOKEN?: string;
  /** Secret: bearer credential origins use for /introspect (RFC 7662). */
  INTROSPECTION_TOKEN?: string;
  TASK_POLICY?: string;
  /** JSON: several origins, `[{"name", "url", "audience"?, "policy"?}]`, the first the default (src/origins). */
  ORIGINS?: string;
  ALLOWED_ORIGINS?: string;
  DELIVERY_GRACE_SECONDS?: string;
  AUDIT_RETENTION_DAYS?: string;
  RATE_LIMIT_CREATIONS_PER_MINUTE?: string;
  RATE_LIMIT_REFUSALS_PER_MINUTE?: string;
  DPOP_MAX_SKEW_SECONDS?: string;
  DPOP_BOUND_ACCESS_TOKENS_REQUIRED?: string;
  ORIGIN_ASSERTION_TTL_SECONDS?: string;
  FORWARD_TASK_HANDLE_HEADER?: string;
  AUDIT_CHECKPOINT_SECONDS?: string;
  /** Secret: the key API keys are MAC'd under. Without it, one is derived from HANDLE_SIGNING_JWKS. */
  API_KEY_SECRET?: string;
  /** "false" accepts OAuth access tokens without `typ: at+jwt` (RFC 9068). */
  OAUTH_REQUIRE_AT_JWT?: string;
  /** "true": push every audit event to AUDIT_QUEUE, whose consumer archives batches to AUDIT_ARCHIVE (R2). */
  SIEM_QUEUE?: string;
  AUDIT_QUEUE?: Queue<AuditShipment>;
  AUDIT_ARCHIVE?: R2Bucket;
  /** Ledger shards per tenant (1-64, default 1), per-tenant overrides (JSON), shard placement (JSON); see src/ledger/shards.ts. */
  LEDGER_SHARDS?: string;
  LEDGER_SHARDS_BY_TENANT?: string;
  LEDGER_SHARD_LOCATIONS?: string;
}

/** One authorization server whose access tokens taskward accepts. */
export interface OAuthServer {
  issuer: string;
  /** Its JWKS; when absent, found through its RFC 8414 metadata. */
  jwksUri: string | undefined;
  /** The only tenants tokens of this issuer may name; any tenant when absent. */
  tenants: string[] | undefined;
}

export interface ClaimNames {
  tenant: string;
  clientId: string;
  subject: string;
}

export interface Config {
  issuer: string;
  /** This authority's MCP resource URI at the path served (/mcp, or /mcp/<origin>): the audience of caller tokens (RFC 8707/9728). */
  resource: string;
  /** Every origin behind this authority (ORIGINS, or ORIGIN_URL alone), the default first. */
  origins: OriginConfig[];
  /** The origin this config serves: the default as parsed; per request, the one its path names (src/origins/origin-scope.ts). */
  origin: OriginConfig;
  /** `origin`'s URL. */
  originUrl: string;
  /** Audience of handles: `origin`'s canonical resource URI. */
  handleAudience: string;
  oauth: {
    /** The issuers' identifiers (RFC 9728 `authorization_servers`). */
    issuers: string[];
    servers: OAuthServer[];
    /** Require `typ: at+jwt` on access tokens (RFC 9068); on unless OAUTH_REQUIRE_AT_JWT is "false". */
    requireAtJwt: boolean;
    claims: ClaimNames;
  };
  /** MAC key material for API keys: API_KEY_SECRET, else derived (HKDF) from the signing key ring. */
  apiKeySecret: string | undefined;
  maxTaskTtlSeconds: number;
  maxBodyBytes: number;
  devMode: boolean;
  /** Browser origins allowed to call /mcp (DNS-rebinding defence); the issuer's own origin by default. */
  allowedOrigins: string[];
  /** The authority serves on loopback (development): then only loopback Hosts and Origins may call it. */
  loopbackIssuer: boolean;
  adminToken: string | undefined;
  introspectionToken: string | undefined;
  signingJwks: string | undefined;
  /** `origin`'s task policy (its own, else TASK_POLICY). */
  policy: TaskPolicy;
  /** Names the policy in force (`origin`'s policy and MAX_TASK_TTL_SECONDS); recorded with each decision. */
  policyVersion: string;
  ledgerLimits: LedgerLimits;
  /** How many ledger objects each tenant's handles spread over, and where shards are placed. */
  ledgerShards: ShardConfig;
  /** RFC 9449: how far a proof's `iat` may lie from now; whether every caller must prove possession. */
  dpop: { maxSkewSeconds: number; boundTokensRequired: boolean };
  /** Lifetime of the per-call origin assertion (seconds). */
  originAssertionTtlSeconds: number;
  /** Compatibility mode: also send the client-visible handle to the origin in Taskward-Task-Handle. */
  forwardTaskHandleHeader: boolean;
  /** Push audit events to the SIEM queue (SIEM_QUEUE); the bindings are checked when it is on. */
  siemQueue: boolean;
}

const LOOPBACK_HOSTNAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTNAMES.has(hostname.toLowerCase());
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "ERR_CONFIG_INVALID";
}

export function requireUrl(name: string, value: string | undefined): string {
  if (!value) throw new ConfigError(`${name} is required`);
  try {
    return new URL(value).href.replace(/\/$/, "");
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return parsed;
}

function booleanFlag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw new ConfigError(`${name} must be "true" or "false", got ${JSON.stringify(value)}`);
}

/** A revoked handle reaches a stateless origin within this lifetime, so it stays short. */
const MAX_ORIGIN_ASSERTION_TTL_SECONDS = 300;

function assertionTtl(value: string | undefined): number {
  const ttl = positiveInteger("ORIGIN_ASSERTION_TTL_SECONDS", value, 60);
  if (ttl > MAX_ORIGIN_ASSERTION_TTL_SECONDS) throw new ConfigError(`ORIGIN_ASSERTION_TTL_SECONDS must be at most ${MAX_ORIGIN_ASSERTION_TTL_SECONDS}, got ${ttl}`);
  return ttl;
}

/**
 * OAUTH_ISSUERS: a JSON array `[{"issuer", "jwks_uri"?, "tenants"?}]` (each issuer its own JWKS,
 * or RFC 8414 discovery when jwks_uri is absent; `tenants` limits which tenants it may assert),
 * or the older comma-separated issuers sharing OAUTH_JWKS_URL.
 */
function parseOAuthServers(issuers: string | undefined, sharedJwksUrl: string | undefined): OAuthServer[] {
  const text = (issuers ?? "").trim();
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigError("OAUTH_ISSUERS starts with [ but is not JSON");
    }
    return (parsed as unknown[]).map((entry, index) => {
      const item = entry as { issuer?: unknown; jwks_uri?: unknown; tenants?: unknown };
      if (!item || typeof item.issuer !== "string") throw new ConfigError(`OAUTH_ISSUERS[${index}].issuer must be a string`);
      if (item.jwks_uri !== undefined && typeof item.jwks_uri !== "string") throw new ConfigError(`OAUTH_ISSUERS[${index}].jwks_uri must be a string`);
      if (item.tenants !== undefined && !(Array.isArray(item.tenants) && item.tenants.every((t) => typeof t === "string"))) {
        throw new ConfigError(`OAUTH_ISSUERS[${index}].tenants must be an array of tenant ids`);
      }
      requireUrl(`OAUTH_ISSUERS[${index}].issuer`, item.issuer);
      return {
        issuer: item.issuer,
        jwksUri: item.jwks_uri === undefined ? undefined : requireUrl(`OAUTH_ISSUERS[${index}].jwks_uri`, item.jwks_uri),
        tenants: item.tenants as string[] | undefined,
      };
    });
  }
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  const jwksUri = sharedJwksUrl ? requireUrl("OAUTH_JWKS_URL", sharedJwksUrl) : undefined;
  if (names.length > 0 && !jwksUri) throw new ConfigError("OAUTH_JWKS_URL is required when OAUTH_ISSUERS is a comma-separated list");
  return names.map((issuer) => ({ issuer, jwksUri, tenants: undefined }));
}

export function parseConfig(env: WorkerEnv): Config {
  const issuer = requireUrl("TASKWARD_ISSUER", env.TASKWARD_ISSUER);
  const oauthServers = parseOAuthServers(env.OAUTH_ISSUERS, env.OAUTH_JWKS_URL);
  const policy = parseTaskPolicy(env.TASK_POLICY);
  if ("problems" in policy) throw new ConfigError(policy.problems.join("; "));
  const maxTaskTtlSeconds = positiveInteger("MAX_TASK_TTL_SECONDS", env.MAX_TASK_TTL_SECONDS, 86_400);
  const origins = parseOrigins(env.ORIGINS, env.ORIGIN_URL, policy.policy, maxTaskTtlSeconds);
  const origin = origins[0]!;
  const siemQueue = booleanFlag("SIEM_QUEUE", env.SIEM_QUEUE);
  if (siemQueue && (!env.AUDIT_QUEUE || !env.AUDIT_ARCHIVE)) throw new ConfigError("SIEM_QUEUE is on but the AUDIT_QUEUE or AUDIT_ARCHIVE binding is missing (see wrangler.toml)");
  const retentionDays = env.AUDIT_RETENTION_DAYS ? positiveInteger("AUDIT_RETENTION_DAYS", env.AUDIT_RETENTION_DAYS, 0) : undefined;
  return {
    issuer,
    resource: `${issuer}/mcp`,
    origins,
    origin,
    originUrl: origin.url,
    handleAudience: origin.audience,
    oauth: {
      issuers: oauthServers.map((server) => server.issuer),
      servers: oauthServers,
      requireAtJwt: env.OAUTH_REQUIRE_AT_JWT === undefined || env.OAUTH_REQUIRE_AT_JWT === "" ? true : booleanFlag("OAUTH_REQUIRE_AT_JWT", env.OAUTH_REQUIRE_AT_JWT),
      claims: {
        tenant: env.CLAIM_TENANT || "tenant",
        clientId: env.CLAIM_CLIENT_ID || "client_id",
        subject: env.CLAIM_SUBJECT || "sub",
      },
    },
    maxTaskTtlSeconds,
    maxBodyBytes: positiveInteger("MAX_BODY_BYTES", env.MAX_BODY_BYTES, 1_048_576),
    devMode: booleanFlag("DEV_MODE", env.DEV_MODE),
    loopbackIssuer: isLoopbackHostname(new URL(issuer).hostname),
    allowedOrigins: [new URL(issuer).origin, ...(env.ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean)],
    adminToken: env.ADMIN_TOKEN || undefined,
    introspectionToken: env.INTROSPECTION_TOKEN || undefined,
    apiKeySecret: env.API_KEY_SECRET || undefined,
    signingJwks: env.HANDLE_SIGNING_JWKS || undefined,
    policy: origin.policy,
    policyVersion: origin.policyVersion,
    ledgerLimits: {
      deliveryGraceMs: positiveInteger("DELIVERY_GRACE_SECONDS", env.DELIVERY_GRACE_SECONDS, 300) * 1000,
      creationsPerMinute: positiveInteger("RATE_LIMIT_CREATIONS_PER_MINUTE", env.RATE_LIMIT_CREATIONS_PER_MINUTE, 120),
      refusalsPerMinute: positiveInteger("RATE_LIMIT_REFUSALS_PER_MINUTE", env.RATE_LIMIT_REFUSALS_PER_MINUTE, 30),
      auditRetentionMs: retentionDays === undefined ? undefined : retentionDays * 86_400_000,
      auditCheckpointMs: positiveInteger("AUDIT_CHECKPOINT_SECONDS", env.AUDIT_CHECKPOINT_SECONDS, 3600) * 1000,
    },
    ledgerShards: shardConfig(env),
    dpop: {
      maxSkewSeconds: positiveInteger("DPOP_MAX_SKEW_SECONDS", env.DPOP_MAX_SKEW_SECONDS, 300),
      boundTokensRequired: booleanFlag("DPOP_BOUND_ACCESS_TOKENS_REQUIRED", env.DPOP_BOUND_ACCESS_TOKENS_REQUIRED),
    },
    originAssertionTtlSeconds: assertionTtl(env.ORIGIN_ASSERTION_TTL_SECONDS),
    forwardTaskHandleHeader: booleanFlag("FORWARD_TASK_HANDLE_HEADER", env.FORWARD_TASK_HANDLE_HEADER),
    siemQueue,
  };
}

function shardConfig(env: WorkerEnv): ShardConfig {
  try {
    return parseShardConfig(env.LEDGER_SHARDS, env.LEDGER_SHARDS_BY_TENANT, env.LEDGER_SHARD_LOCATIONS);
  } catch (error) {
    throw error instanceof ShardConfigError ? new ConfigError(error.message) : error;
  }
}

/** The first 64 bits of SHA-256 over the parsed policy: equal policies, equal versions. */
export function policyVersionOf(policy: TaskPolicy, maxTaskTtlSeconds: number): string {
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify({ policy, maxTaskTtlSeconds })))).slice(0, 16);
}

const parsedConfigs = new WeakMap<object, Config>();

/** The config for this env, parsed on first use. */
export function configFor(env: WorkerEnv): Config {
  let config = parsedConfigs.get(env);
  if (!config) {
    config = parseConfig(env);
    parsedConfigs.set(env, config);
  }
  return config;
}
