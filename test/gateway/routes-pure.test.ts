import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal.js";
import { configFor, type WorkerEnv } from "../../src/config.js";
import { signingKeyRing } from "../../src/handle/signing-keys.js";
import { parseClientMessage, type ClientMessage } from "../../src/mcp/envelope.js";
import { readRequest } from "../../src/gateway/read-request.js";
import { planRoute, type RouteContext } from "../../src/gateway/routes/index.js";
import { taskIdMapperFor } from "../../src/gateway/task-id-mapper.js";
import { moduleFor } from "../../src/mcp/revisions/index.js";

/** Routes are stages that return a forward plan: the parsed request they are given is never edited. */
const workerEnv = env as unknown as WorkerEnv;
const config = configFor(workerEnv);
const principal: Principal = { tenant: "pure-routes", clientId: "c", subject: "s", authTime: Math.floor(Date.now() / 1000), scopes: [], via: "dev" };
const TASKS_EXT = "io.modelcontextprotocol/tasks";

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

async function plan(version: string, body: Record<string, unknown>) {
  const message = deepFreeze(parseClientMessage(JSON.stringify(body))) as ClientMessage;
  const before = JSON.stringify(message);
  const { revision, classified } = readRequest(new Headers({ "mcp-protocol-version": version }), message, undefined);
  const context: RouteContext = { env: workerEnv, config, principal, revision, txn: "txn-pure", keyRing: async () => (await signingKeyRing(config))!, waitUntil: () => undefined };
  const forward = await planRoute(context, classified);
  expect(JSON.stringify(message)).toBe(before);
  return forward.message.raw as Record<string, any>;
}

describe("routes as pure stages", () => {
  it("create (2026-07-28, policy-forbidden tool): the extension declaration and params.task are left out of a new body", async () => {
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS_EXT]: {} } } };
    const forwarded = await plan("2026-07-28", { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "summarize", arguments: { text: "x" }, task: { ttl: 1 }, _meta: meta } });
    expect(forwarded.params).not.toHaveProperty("task");
    expect(forwarded.params._meta["io.modelcontextprotocol/clientCapabilities"].extensions).toEqual({});
  });

  it("passthrough initialize (2025-11-25): the client-hosted task offer is left out of a new body", async () => {
    const capabilities = { tasks: { list: {}, requests: { tools: { call: {} }, sampling: { createMessage: {} }, elicitation: { create: {} } } } };
    const forwarded = await plan("2025-11-25", { jsonrpc: "2.0", id: 2, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities, clientInfo: { name: "t", version: "0" } } });
    expect(forwarded.params.capabilities.tasks.requests).toEqual({ tools: { call: {} } });
  });

  it("passthrough (2025-11-25): later-revision _meta keys are left out of a new body", async () => {
    const forwarded = await plan("2025-11-25", { jsonrpc: "2.0", id: 3, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2025-11-25", keep: 1 } } });
    expect(forwarded.params._meta).toEqual({ keep: 1 });
  });
});

describe("readRequest: what an initialize's params.protocolVersion means", () => {
  it("is the client's proposal, not a second signal: an initialize proposing another version under a 2025-11-25 header is read as 2025-11-25; any other request's params.protocolVersion must agree", () => {
    const read = (body: Record<string, unknown>) => readRequest(new Headers({ "mcp-protocol-version": "2025-11-25" }), parseClientMessage(JSON.stringify(body)) as ClientMessage, undefined);
    const initialize = read({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    expect(initialize.revision.version).toBe("2025-11-25");
    let refusal: unknown;
    try {
      read({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { protocolVersion: "2025-06-18" } });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: "header_mismatch", message: expect.stringContaining("params.protocolVersion") });
  });
});

/** The mapper of a 2025-11-25 call creating a `tool` task, for a fresh tenant named after `prefix`. */
async function creatingMapper(prefix: string, tool: string) {
  const keyRing = (await signingKeyRing(config))!;
  const owner: Principal = { ...principal, tenant: `${prefix}-${crypto.randomUUID().slice(0, 8)}` };
  const mapper = taskIdMapperFor({ env: workerEnv, config, principal: owner, creation: { tool, version: "2025-11-25", module: moduleFor("2025-11-25"), keyRing }, waitUntil: () => undefined });
  return { keyRing, owner, mapper };
}

describe("the task id mapper of a creating call", () => {
  it("knows the capped TTL of the task it just minted, for every later mention of that task in the same answer", async () => {
    const { mapper } = await creatingMapper("mapper-ttl", "long_job");
    // long_job's policy caps handles at 30 s (vitest.config.ts); the origin asked for an hour.
    expect((await mapper.mint({ taskId: "origin-ttl-task", status: "working", ttlMs: 3_600_000 })).ttlMs).toBe(30_000);
    expect(mapper.effectiveTtlMs("origin-ttl-task")).toBe(30_000);
    expect(mapper.effectiveTtlMs("another-task")).toBeUndefined();
  });
});

describe("the task id mapper of a tasks/list answer", () => {
  it("remembers the status the ledger holds for each listed task, so seeing it again writes nothing", async () => {
    const { keyRing, owner, mapper: creating } = await creatingMapper("mapper-status", "slow_echo");
    await creating.mint({ taskId: "listed-task", status: "working", ttlMs: 60_000 });
    const writes: Array<Promise<unknown>> = [];
    const listing = taskIdMapperFor({ env: workerEnv, config, principal: owner, listing: { keyRing }, waitUntil: (p) => void writes.push(p) });
    expect([...(await listing.resolve(["listed-task"])).keys()]).toEqual(["listed-task"]);
    listing.observeStatus("listed-task", "working");
    expect(writes).toHaveLength(0);
    listing.observeStatus("listed-task", "completed");
    expect(writes).toHaveLength(1);
    await Promise.all(writes);
  });
});
