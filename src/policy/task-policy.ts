import { TASK_OPS, type TaskOp } from "../handle/claims.js";
import * as z from "../validation.js";
import type { RevisionModule } from "../mcp/revisions/index.js";

export const BINDABLE_FIELDS = ["tenant", "client", "subject", "session"] as const;
export type BindableField = (typeof BINDABLE_FIELDS)[number];

/** What policy says about tasks created by one tool. */
export interface ToolPolicy {
  /** Overrides the origin's `execution.taskSupport`; undefined keeps the origin's. */
  taskSupport: "forbidden" | "optional" | "required" | undefined;
  /** Cap on a handle's lifetime, applied on top of MAX_TASK_TTL_SECONDS. */
  maxTtlSeconds: number | undefined;
  /** Follow-up operations a handle allows (intersected with what its protocol revision has). */
  ops: TaskOp[];
  /** Principal fields a follow-up must match; `tenant` always binds. */
  bind: BindableField[];
  /** Step-up: `stepUpOps` need a caller authenticated at most this many seconds ago. */
  maxAuthAgeSeconds: number | undefined;
  stepUpOps: TaskOp[];
  /** May the task's owner delegate it (operators always may)? */
  ownerMayDelegate: boolean;
  /** May a delegate delegate its delegated handle onward (operators always may)? */
  delegatesMayDelegate: boolean;
  /** Calls of this tool need a DPoP proof (RFC 9449), so its task handles are always key-bound. */
  requireProofOfPossession: boolean;
}

export interface TaskPolicy {
  default: ToolPolicy;
  tools: Record<string, Partial<ToolPolicy>>;
}

const op = z.enum(TASK_OPS);
const ToolPolicySchema = z.strictObject({
  taskSupport: z.optional(z.enum(["forbidden", "optional", "required"])),
  maxTtlSeconds: z.optional(z.int().check(z.positive())),
  ops: z.optional(z.array(op)),
  bind: z.optional(z.array(z.enum(BINDABLE_FIELDS)).check(z.refine((fields) => fields.includes("tenant"), "must include tenant: handles never cross tenants"))),
  maxAuthAgeSeconds: z.optional(z.int().check(z.positive())),
  stepUpOps: z.optional(z.array(op)),
  ownerMayDelegate: z.optional(z.boolean()),
  delegatesMayDelegate: z.optional(z.boolean()),
  requireProofOfPossession: z.optional(z.boolean()),
});

export const TaskPolicySchema = z.strictObject({ default: z.optional(ToolPolicySchema), tools: z.optional(z.record(z.string().check(z.minLength(1)), ToolPolicySchema)) });

export const DEFAULT_TOOL_POLICY: ToolPolicy = {
  taskSupport: undefined,
  maxTtlSeconds: undefined,
  ops: [...TASK_OPS],
  bind: ["tenant", "client", "subject"],
  maxAuthAgeSeconds: undefined,
  stepUpOps: ["result", "cancel"],
  ownerMayDelegate: false,
  delegatesMayDelegate: false,
  requireProofOfPossession: false,
};

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Parses TASK_POLICY (JSON); returns readable problems for the config error. */
export function parseTaskPolicy(source: string | undefined): { policy: TaskPolicy } | { problems: string[] } {
  if (!source || source.trim() === "") return { policy: { default: DEFAULT_TOOL_POLICY, tools: {} } };
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch {
    return { problems: ["TASK_POLICY is not JSON"] };
  }
  const parsed = TaskPolicySchema.safeParse(json);
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => `TASK_POLICY.${i.path.join(".")}: ${i.message}`) };
  const tools: Record<string, Partial<ToolPolicy>> = {};
  for (const [name, rules] of Object.entries(parsed.data.tools ?? {})) tools[name] = withoutUndefined(rules) as Partial<ToolPolicy>;
  return { policy: { default: { ...DEFAULT_TOOL_POLICY, ...(withoutUndefined(parsed.data.default ?? {}) as Partial<ToolPolicy>) }, tools } };
}

/** The effective policy for `tool`: its own rules over the default. */
export function policyFor(policy: TaskPolicy, tool: string): ToolPolicy {
  return { ...policy.default, ...(policy.tools[tool] ?? {}) };
}

/** Operations a handle allows: the policy's, limited to those its protocol revision has. */
export function opsFor(rules: ToolPolicy, module: RevisionModule): TaskOp[] {
  return module.handleOps.filter((o) => rules.ops.includes(o));
}

/** The TTL a handle gets: the origin's TTL capped by policy; an unlimited (null) origin TTL is capped too. */
export function effectiveTtlMs(originTtlMs: number | null, maxTtlSeconds: number): number {
  const cap = maxTtlSeconds * 1000;
  if (originTtlMs === null || !Number.isFinite(originTtlMs) || originTtlMs <= 0) return cap;
  return Math.min(originTtlMs, cap);
}

/** The TTL cap for one tool: the global cap, lowered by the tool's own. */
export function ttlCapSeconds(rules: ToolPolicy, globalMaxSeconds: number): number {
  return Math.min(globalMaxSeconds, rules.maxTtlSeconds ?? globalMaxSeconds);
}

/**
 * What the policy in force says about one tool's live handles, as the ledger applies it on every
 * use: a handle keeps at most the operations, lifetime and bindings it was minted with, narrowed
 * by whatever policy says now.
 */
export interface RulesInForce {
  version: string;
  forbidden: boolean;
  ops: TaskOp[];
  bind: BindableField[];
  maxAuthAgeSeconds: number | null;
  stepUpOps: TaskOp[];
  ttlCapSeconds: number;
}

export function rulesInForce(policy: TaskPolicy, policyVersion: string, maxTaskTtlSeconds: number, tool: string): RulesInForce {
  const rules = policyFor(policy, tool);
  return {
    version: policyVersion,
    forbidden: rules.taskSupport === "forbidden",
    ops: rules.ops,
    bind: rules.bind,
    maxAuthAgeSeconds: rules.maxAuthAgeSeconds ?? null,
    stepUpOps: rules.stepUpOps,
    ttlCapSeconds: ttlCapSeconds(rules, maxTaskTtlSeconds),
  };
}
