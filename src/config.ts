/** Worker env → typed, validated config. Parsed once per env object; a bad value fails loudly. */
import type { TaskLedger } from "./ledger/task-ledger.js";
import type { AuditShipment } from "./siem/audit-shipper.js";
import type { LedgerLimits } from "./ledger/types.js";
import { parseTaskPolicy, type TaskPolicy } from "./policy/task-policy.js";

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
  ALLOWED_ORIGINS?: string;
  DELIVERY_GRACE_SECONDS?: string;
  AUDIT_RETENTION_DAYS?: string;
  RATE_LIMIT_CREATIONS_PER_MINUTE?: string;
  RATE_LIMIT_REFUSALS_PER_MINUTE?: string;
  /** "true": push every audit event to AUDIT_QUEUE, whose consumer archives batches to AUDIT_ARCHIVE (R2). */
  SIEM_QUEUE?: string;
  AUDIT_QUEUE?: Queue<AuditShipment>;
  AUDIT_ARCHIVE?: R2Bucket;
}

export interface ClaimNames {
  tenant: string;
  clientId: string;
  subject: string;
}

export interface Config {
  issuer: string;
  /** This authority's own MCP resource URI: the audience of caller tokens (RFC 8707/9728). */
  resource: string;
  originUrl: string;
  /** Audience of handles: the origin's canonical resource URI. */
  handleAudience: string;
  oauth: { issuers: string[]; jwksUrl: string | undefined; claims: ClaimNames };
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
  policy: TaskPolicy;
  ledgerLimits: LedgerLimits;
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

function requireUrl(name: string, value: string | undefined): string {
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

export function parseConfig(env: WorkerEnv): Config {
  const issuer = requireUrl("TASKWARD_ISSUER", env.TASKWARD_ISSUER);
  const originUrl = requireUrl("ORIGIN_URL", env.ORIGIN_URL);
  const oauthIssuers = (env.OAUTH_ISSUERS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const jwksUrl = env.OAUTH_JWKS_URL ? requireUrl("OAUTH_JWKS_URL", env.OAUTH_JWKS_URL) : undefined;
  if (oauthIssuers.length > 0 && !jwksUrl) throw new ConfigError("OAUTH_JWKS_URL is required when OAUTH_ISSUERS is set");
  const policy = parseTaskPolicy(env.TASK_POLICY);
  if ("problems" in policy) throw new ConfigError(policy.problems.join("; "));
  const siemQueue = booleanFlag("SIEM_QUEUE", env.SIEM_QUEUE);
  if (siemQueue && (!env.AUDIT_QUEUE || !env.AUDIT_ARCHIVE)) throw new ConfigError("SIEM_QUEUE is on but the AUDIT_QUEUE or AUDIT_ARCHIVE binding is missing (see wrangler.toml)");
  const retentionDays = env.AUDIT_RETENTION_DAYS ? positiveInteger("AUDIT_RETENTION_DAYS", env.AUDIT_RETENTION_DAYS, 0) : undefined;
  return {
    issuer,
    resource: `${issuer}/mcp`,
    originUrl,
    handleAudience: originUrl,
    oauth: {
      issuers: oauthIssuers,
      jwksUrl,
      claims: {
        tenant: env.CLAIM_TENANT || "tenant",
        clientId: env.CLAIM_CLIENT_ID || "client_id",
        subject: env.CLAIM_SUBJECT || "sub",
      },
    },
    maxTaskTtlSeconds: positiveInteger("MAX_TASK_TTL_SECONDS", env.MAX_TASK_TTL_SECONDS, 86_400),
    maxBodyBytes: positiveInteger("MAX_BODY_BYTES", env.MAX_BODY_BYTES, 1_048_576),
    devMode: booleanFlag("DEV_MODE", env.DEV_MODE),
    loopbackIssuer: isLoopbackHostname(new URL(issuer).hostname),
    allowedOrigins: [new URL(issuer).origin, ...(env.ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean)],
    adminToken: env.ADMIN_TOKEN || undefined,
    introspectionToken: env.INTROSPECTION_TOKEN || undefined,
    signingJwks: env.HANDLE_SIGNING_JWKS || undefined,
    policy: policy.policy,
    ledgerLimits: {
      deliveryGraceMs: positiveInteger("DELIVERY_GRACE_SECONDS", env.DELIVERY_GRACE_SECONDS, 300) * 1000,
      creationsPerMinute: positiveInteger("RATE_LIMIT_CREATIONS_PER_MINUTE", env.RATE_LIMIT_CREATIONS_PER_MINUTE, 120),
      refusalsPerMinute: positiveInteger("RATE_LIMIT_REFUSALS_PER_MINUTE", env.RATE_LIMIT_REFUSALS_PER_MINUTE, 30),
      auditRetentionMs: retentionDays === undefined ? undefined : retentionDays * 86_400_000,
    },
    siemQueue,
  };
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
