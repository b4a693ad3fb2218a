/**
 * The benchmark Worker (bench/wrangler.bench.toml). One isolate serves three versions of the
 * same follow-up so they are measured side by side under identical conditions:
 *
 *   /mcp        taskward's real app (src/app.ts) with the real TaskLedger
 *   /bare/mcp   a bare pass-through Hono proxy to the same origin
 *   /noop/mcp   the same proxy after one no-op Durable Object RPC (the irreducible cost of
 *               consulting consistent state once per call)
 *
 * plus /list/mcp (taskward again, its ledger binding pointed at BenchTaskLedger so a seeded
 * 10k-task tenant can be listed), /p1/mcp (taskward with the per-poll observeStatus RPC answered
 * locally: a simulation of proposal P1 in docs/benchmarks.md) and /bench/* (ledger loops timed
 * inside the Worker, seeding, row metering, in-object attribution, RPC counters, crypto
 * cross-check). Bench-only: never deployed.
 */
import { DurableObject } from "cloudflare:workers";
import { Hono, type Context } from "hono";
import { createApp } from "../../src/app.js";
import type { WorkerEnv } from "../../src/config.js";
import type { TaskOp } from "../../src/handle/claims.js";
import { eventHash } from "../../src/ledger/audit-chain.js";
import { TaskLedger } from "../../src/ledger/task-ledger.js";
import type { LedgerPrincipal } from "../../src/ledger/types.js";
import { runCryptoBench } from "../shared/crypto-cases.js";
import { meterLedgerSql, type Metered as MeteredCall } from "../shared/metered-sql.js";

export { TaskLedger };

export interface BenchEnv extends WorkerEnv {
  BENCH_LEDGER: DurableObjectNamespace<BenchTaskLedger>;
  NOOP: DurableObjectNamespace<NoopObject>;
}

/** What an allowed decision looks like on the wire, so the baseline RPC returns as much as authorize does. */
const NOOP_DECISION = Object.freeze({ allowed: true, taskId: "noop-task-00000000", status: "working", tool: "noop" });

/**
 * The baseline object: `noop` takes authorize's arguments and does nothing with them.
 * `noopWrite` (a diagnostic, not a target baseline) also commits one one-row SQLite write — the
 * floor for any design that must durably record every decision before answering.
 */
export class NoopObject extends DurableObject<BenchEnv> {
  constructor(ctx: DurableObjectState, env: BenchEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS counter (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)`);
  }

  noop(_tenant: string, _a?: unknown, _b?: unknown, _c?: unknown): typeof NOOP_DECISION {
    return NOOP_DECISION;
  }

  noopWrite(_tenant: string, _a?: unknown, _b?: unknown, _c?: unknown): typeof NOOP_DECISION {
    this.ctx.storage.sql.exec(`INSERT INTO counter (k, v) VALUES (1, 1) ON CONFLICT (k) DO UPDATE SET v = v + 1`);
    return NOOP_DECISION;
  }
}

type Counted = "authorize" | "observeStatus" | "ownedHandles" | "observeDelivery" | "issue";
/** writeCounts (private in TaskLedger): one write of the repeats counted in memory, as the alarm or the next change does it. */
type Metered = "authorize" | "observeStatus" | "ownedHandles" | "writeCounts";

export interface SeedSpec {
  start: number;
  count: number;
  clientId: string;
  subject: string;
  /** Origin task ids are `${taskPrefix}${i}`, jtis `${jtiPrefix}${i}`. */
  taskPrefix: string;
  jtiPrefix: string;
  /** A real handle; stored rows carry a string of its length (what ownedHandles returns). */
  handleTemplate: string;
  status?: string;
}

/**
 * The real TaskLedger plus bench-only methods: seeding through the real `issue` (so every row
 * has its audit event and the chain is genuine), per-method call counters (how many ledger RPCs
 * one follow-up costs), and SQLite row metering of one call (rows read / written are billed).
 * Nothing it adds runs on the measured paths except a counter increment per counted call.
 */
export class BenchTaskLedger extends TaskLedger {
  private readonly calls: Record<Counted, number> = { authorize: 0, observeStatus: 0, ownedHandles: 0, observeDelivery: 0, issue: 0 };

  override authorize(...args: Parameters<TaskLedger["authorize"]>): ReturnType<TaskLedger["authorize"]> {
    this.calls.authorize++;
    return super.authorize(...args);
  }

  override observeStatus(...args: Parameters<TaskLedger["observeStatus"]>): void {
    this.calls.observeStatus++;
    super.observeStatus(...args);
  }

  override ownedHandles(...args: Parameters<TaskLedger["ownedHandles"]>): ReturnType<TaskLedger["ownedHandles"]> {
    this.calls.ownedHandles++;
    return super.ownedHandles(...args);
  }

  override observeDelivery(...args: Parameters<TaskLedger["observeDelivery"]>): void {
    this.calls.observeDelivery++;
    super.observeDelivery(...args);
  }

  override issue(...args: Parameters<TaskLedger["issue"]>): void {
    this.calls.issue++;
    super.issue(...args);
  }

  /** Returns the counters and resets them. */
  benchTakeCalls(): Record<Counted, number> {
    const taken = { ...this.calls };
    for (const key of Object.keys(this.calls) as Counted[]) this.calls[key] = 0;
    return taken;
  }

  /**
   * Seeds `count` tasks with the real `issue`, one transaction per call. `issue` also schedules
   * the purge alarm with a floating getAlarm/setAlarm per row; left in, tens of thousands of them
   * would still be running when the measurement starts, so they are shadowed during the seed
   * and the alarm is scheduled once at the end (the rows all expire together).
   */
  async benchSeed(tenant: string, spec: SeedSpec): Promise<{ seeded: number; ms: number; databaseSize: number }> {
    const started = Date.now();
    const now = Date.now();
    const filler = spec.handleTemplate;
    const self = this as unknown as { scheduleAlarm(at: number): Promise<void> };
    const scheduleAlarm = self.scheduleAlarm;
    self.scheduleAlarm = async () => undefined;
    try {
      this.seedRows(tenant, spec, now, filler);
    } finally {
      delete (self as { scheduleAlarm?: unknown }).scheduleAlarm;
    }
    await scheduleAlarm.call(this, now + 86_400_000 + 3_600_000);
    return { seeded: spec.count, ms: Date.now() - started, databaseSize: this.ctx.storage.sql.databaseSize };
  }

  private seedRows(tenant: string, spec: SeedSpec, now: number, filler: string): void {
    this.ctx.storage.transactionSync(() => {
      for (let i = spec.start; i < spec.start + spec.count; i++) {
        const jti = `${spec.jtiPrefix}${i}`;
        this.issue(tenant, {
          jti,
          taskId: `${spec.taskPrefix}${i}`,
          handle: (jti + filler).slice(0, filler.length),
          originHandle: (jti + filler).slice(0, filler.length),
          principal: { tenant, clientId: spec.clientId, subject: spec.subject },
          tool: "bench_tool",
          ops: ["get", "result", "cancel"],
          mcp: "2025-11-25",
          bind: ["tenant", "client", "subject"],
          maxAuthAgeSeconds: undefined,
          stepUpOps: [],
          status: spec.status ?? "working",
          issuedAt: now,
          expiresAt: now + 86_400_000,
        });
      }
    });
  }

  /**
   * Attribution of authorize's cost inside the object (no RPC): each statement authorize runs,
   * the audit hash, an empty and a one-row-write transaction, and authorize/isActive called
   * directly, each `n` times back to back, timed with performance.now() over the whole batch.
   */
  benchCosts(tenant: string, jti: string, principal: LedgerPrincipal, n: number, ownedIds?: string[]): Record<string, number> {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS bench_scratch (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)`);
    const head = sql.exec(`SELECT * FROM audit ORDER BY seq DESC LIMIT 1`).toArray()[0] as Record<string, unknown>;
    const { hash: _h, ...event } = head;
    const timed = (iterations: number, work: () => unknown): number => {
      const start = performance.now();
      for (let i = 0; i < iterations; i++) work();
      return Math.round(((performance.now() - start) / iterations) * 1000 * 10) / 10; // µs per op
    };
    const batch = (work: () => unknown): number => timed(n, work);
    if (ownedIds) {
      // tasks/list attribution: ownedHandles in the object, and the statements it runs per id.
      return {
        [`ownedHandles(${ownedIds.length} ids) called in the object`]: timed(Math.max(5, Math.floor(n / ownedIds.length)), () => this.ownedHandles(tenant, principal, ownedIds, { audience: "bench", isDefault: true })),
        "SELECT * FROM tasks WHERE task_id = ? (one per id)": batch(() => sql.exec(`SELECT * FROM tasks WHERE task_id = ? ORDER BY issued_at DESC`, ownedIds[0]).toArray()),
        "SELECT revocation watermark (one per id)": batch(() => sql.exec(`SELECT 1 FROM revocations WHERE issued_before > ? AND ((scope = 'tenant') OR (scope = 'client' AND value = ?) OR (scope = 'subject' AND value = ?)) LIMIT 1`, 0, principal.clientId, principal.subject).toArray()),
        [`one SELECT … WHERE task_id IN (${ownedIds.length} ids)`]: batch(() => sql.exec(`SELECT * FROM tasks WHERE task_id IN (${ownedIds.map(() => "?").join(",")}) ORDER BY issued_at DESC`, ...ownedIds).toArray()),
      };
    }
    return {
      "SELECT meta tenant (bindTenant/servesTenant)": batch(() => sql.exec(`SELECT value FROM meta WHERE key = 'tenant'`).toArray()),
      "SELECT task by jti (taskRow)": batch(() => sql.exec(`SELECT * FROM tasks WHERE jti = ?`, jti).toArray()),
      "SELECT revocation watermark": batch(() => sql.exec(`SELECT 1 FROM revocations WHERE issued_before > ? AND ((scope = 'tenant') OR (scope = 'client' AND value = ?) OR (scope = 'subject' AND value = ?)) LIMIT 1`, 0, principal.clientId, principal.subject).toArray()),
      "SELECT audit head": batch(() => sql.exec(`SELECT * FROM audit ORDER BY seq DESC LIMIT 1`).toArray()),
      "eventHash (SHA-256, @noble/hashes)": batch(() => eventHash(event as never)),
      "empty transactionSync": batch(() => this.ctx.storage.transactionSync(() => undefined)),
      "transactionSync with a one-row UPDATE": batch(() => this.ctx.storage.transactionSync(() => sql.exec(`INSERT INTO bench_scratch (k, v) VALUES (1, 1) ON CONFLICT (k) DO UPDATE SET v = v + 1`))),
      "isActive() called in the object": batch(() => this.isActive(tenant, jti)),
      "authorize() called in the object (folded poll)": batch(() => super.authorize(tenant, jti, "get", principal)),
    };
  }

  /** Runs one ledger method with every SQL cursor it opens counted: statements, rows read, rows written. */
  benchMetered(method: Metered, args: unknown[]): MeteredCall<unknown> {
    return meterLedgerSql(this, () => ((this as unknown as Record<Metered, (...a: unknown[]) => unknown>)[method]).apply(this, args));
  }
}

// ---- the two baseline proxies ----

const FORWARDED = ["content-type", "accept", "mcp-protocol-version", "mcp-session-id"];

async function passThrough(c: Context<{ Bindings: BenchEnv }>): Promise<Response> {
  const body = await c.req.text();
  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  const origin = await fetch(c.env.ORIGIN_URL, { method: "POST", headers, body, redirect: "manual" });
  return new Response(origin.body, { status: origin.status, headers: { "content-type": origin.headers.get("content-type") ?? "application/json" } });
}

const NOOP_PRINCIPAL = { tenant: "bench", clientId: "bench-client", subject: "bench-user", authTime: 0 };

const baselines = new Hono<{ Bindings: BenchEnv }>()
  .post("/bare/mcp", (c) => passThrough(c))
  .post("/noop/mcp", async (c) => {
    const stub = c.env.NOOP.get(c.env.NOOP.idFromName("tenant:bench"));
    await stub.noop("bench", "noop-jti", "get", NOOP_PRINCIPAL);
    return passThrough(c);
  });

// ---- in-Worker ledger loops ----

type LoopTarget = "authorize" | "authorize-unfolded" | "is-active" | "noop" | "noop-write" | "owned" | "noop-owned";

interface LoopSpec {
  target: LoopTarget;
  tenant: string;
  jtis?: string[];
  ids?: string[];
  clientId: string;
  subject: string;
  n: number;
  concurrency: number;
}

function benchLedger(env: BenchEnv, tenant: string): DurableObjectStub<BenchTaskLedger> {
  return env.BENCH_LEDGER.get(env.BENCH_LEDGER.idFromName(`tenant:${tenant}`));
}

function noopObject(env: BenchEnv, tenant: string): DurableObjectStub<NoopObject> {
  return env.NOOP.get(env.NOOP.idFromName(`tenant:${tenant}`));
}

/** One call of the target; the stub is looked up per call, as taskward does per request. */
function callOf(env: BenchEnv, spec: LoopSpec): (i: number) => Promise<unknown> {
  const who: LedgerPrincipal = { tenant: spec.tenant, clientId: spec.clientId, subject: spec.subject, authTime: Math.floor(Date.now() / 1000) };
  const jtis = spec.jtis ?? [];
  const ids = spec.ids ?? [];
  const op: TaskOp = "get";
  switch (spec.target) {
    case "authorize":
      return () => benchLedger(env, spec.tenant).authorize(spec.tenant, jtis[0]!, op, who);
    case "authorize-unfolded":
      // Alternating handles: no two consecutive polls fold, so every call appends an audit row.
      return (i) => benchLedger(env, spec.tenant).authorize(spec.tenant, jtis[i % jtis.length]!, op, who);
    case "is-active":
      // Read-only: the same lookups as authorize (tenant, row, watermark) with no audit write.
      return () => benchLedger(env, spec.tenant).isActive(spec.tenant, jtis[0]!);
    case "noop":
      return () => noopObject(env, spec.tenant).noop(spec.tenant, jtis[0] ?? "jti", op, who);
    case "noop-write":
      return () => noopObject(env, spec.tenant).noopWrite(spec.tenant, jtis[0] ?? "jti", op, who);
    case "owned":
      // Seeded rows carry no audience: they belong to the default origin.
      return () => benchLedger(env, spec.tenant).ownedHandles(spec.tenant, who, ids, { audience: "bench", isDefault: true });
    case "noop-owned":
      return () => noopObject(env, spec.tenant).noop(spec.tenant, who, ids);
  }
}

/**
 * Runs `n` calls with `concurrency` in flight and times them with performance.now(), which in
 * workerd advances across I/O (each await of an RPC) though not during pure CPU work.
 */
async function runLoop(env: BenchEnv, spec: LoopSpec): Promise<Record<string, unknown>> {
  const call = callOf(env, spec);
  const first = (await call(0)) as { allowed?: boolean } | Record<string, unknown>;
  if ((spec.target === "authorize" || spec.target === "authorize-unfolded") && (first as { allowed?: boolean }).allowed !== true) {
    throw new Error(`authorize refused in the bench: ${JSON.stringify(first)}`);
  }
  if (spec.target === "owned" && Object.keys(first).length !== ids(spec).length) {
    throw new Error(`ownedHandles returned ${Object.keys(first).length} of ${ids(spec).length}`);
  }
  const latencies = new Array<number>(spec.n);
  let next = 0;
  const startedWall = Date.now();
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= spec.n) return;
      const t = performance.now();
      await call(i);
      latencies[i] = Math.round((performance.now() - t) * 1000) / 1000;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return { target: spec.target, n: spec.n, concurrency: spec.concurrency, elapsedMs, wallMs: Date.now() - startedWall, latencies };
}

function ids(spec: LoopSpec): string[] {
  return spec.ids ?? [];
}

const benchRoutes = new Hono<{ Bindings: BenchEnv }>()
  .post("/bench/seed", async (c) => {
    const { tenant, spec } = await c.req.json<{ tenant: string; spec: SeedSpec }>();
    return c.json(await benchLedger(c.env, tenant).benchSeed(tenant, spec));
  })
  .post("/bench/loop", async (c) => c.json(await runLoop(c.env, await c.req.json<LoopSpec>())))
  .post("/bench/once", async (c) => {
    // One ledger call per HTTP request, so Node can time single calls with a fine clock.
    const spec = await c.req.json<LoopSpec>();
    await callOf(c.env, spec)(0);
    return c.body(null, 204);
  })
  .post("/bench/crypto", async (c) => {
    // Cross-check of item 2 inside workerd (coarse clock: only the per-round ops/s are meaningful).
    const { alg, rounds, roundMs } = await c.req.json<{ alg: "EdDSA" | "ES256"; rounds: number; roundMs: number }>();
    return c.json(await runCryptoBench(alg, { rounds, roundMs, now: () => performance.now() }));
  })
  .post("/bench/meter", async (c) => {
    const { tenant, method, args } = await c.req.json<{ tenant: string; method: Metered; args: unknown[] }>();
    return c.json(await benchLedger(c.env, tenant).benchMetered(method, args));
  })
  .post("/bench/costs", async (c) => {
    const { tenant, jti, principal, n, ids } = await c.req.json<{ tenant: string; jti: string; principal: LedgerPrincipal; n: number; ids?: string[] }>();
    return c.json(await benchLedger(c.env, tenant).benchCosts(tenant, jti, principal, n, ids));
  })
  .post("/bench/calls", async (c) => {
    const { tenant } = await c.req.json<{ tenant: string }>();
    return c.json(await benchLedger(c.env, tenant).benchTakeCalls());
  })
  .get("/bench/clock", async (c) => {
    // Does performance.now() advance across a DO RPC, and not across pure CPU work?
    const a = performance.now();
    let x = 0;
    for (let i = 0; i < 5_000_000; i++) x = (x + i * 7) % 1_000_003;
    const b = performance.now();
    await noopObject(c.env, "clock").noop("clock");
    const d = performance.now();
    return c.json({ cpuLoopMs: b - a, afterRpcMs: d - b, x });
  });

// ---- dispatch ----

const taskward = createApp();
const listedTaskward = createApp();
const p1Taskward = createApp();
const derivedEnvs = new WeakMap<object, { list: BenchEnv; p1: BenchEnv }>();

/**
 * A ledger namespace whose stubs answer `observeStatus` locally instead of making the RPC:
 * simulates proposal P1 (skip the status RPC when the ledger already has that status) without
 * touching src/. Every other call goes to the real object.
 */
function withoutStatusRpc(namespace: WorkerEnv["TASK_LEDGER"]): WorkerEnv["TASK_LEDGER"] {
  const bind = <T extends object>(target: T, property: string | symbol) => {
    const value = Reflect.get(target, property) as unknown;
    return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  };
  return new Proxy(namespace, {
    get(target, property) {
      if (property !== "get") return bind(target, property);
      return (id: DurableObjectId) => {
        const stub = target.get(id) as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
        // Calls go to the stub as `stub.method(...)`: RPC methods must not be detached from it.
        return new Proxy({}, { get: (_, p) => (p === "then" ? undefined : p === "observeStatus" ? async () => undefined : (...args: unknown[]) => stub[p]!(...args)) });
      };
    },
  });
}

/** Per env (built once): taskward on BenchTaskLedger (/list), taskward without the status RPC (/p1). */
function derived(env: BenchEnv): { list: BenchEnv; p1: BenchEnv } {
  let envs = derivedEnvs.get(env);
  if (!envs) {
    envs = {
      list: { ...env, TASK_LEDGER: env.BENCH_LEDGER as unknown as WorkerEnv["TASK_LEDGER"] },
      p1: { ...env, TASK_LEDGER: withoutStatusRpc(env.TASK_LEDGER) },
    };
    derivedEnvs.set(env, envs);
  }
  return envs;
}

function strip(url: URL, prefix: string, request: Request): Request {
  url.pathname = url.pathname.slice(prefix.length);
  return new Request(url, request);
}

export default {
  fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.startsWith("/bare/") || path.startsWith("/noop/")) return baselines.fetch(request, env, ctx);
    if (path.startsWith("/bench/")) return benchRoutes.fetch(request, env, ctx);
    if (path.startsWith("/list/")) return listedTaskward.fetch(strip(url, "/list", request), derived(env).list, ctx);
    if (path.startsWith("/p1/")) return p1Taskward.fetch(strip(url, "/p1", request), derived(env).p1, ctx);
    return taskward.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
