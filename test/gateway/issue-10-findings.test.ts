import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { rewriteOutboundMessage, type TaskIdMapper } from "../../src/mcp/rewrite.js";
import { revision20251125 } from "../../src/mcp/revisions/2025-11-25.js";
import { rewriteSseStream } from "../../src/mcp/sse.js";
import { eventIdSealer } from "../../src/proxy/event-ids.js";
import { generateSigningJwks, loadKeyRing } from "../../src/handle/keyring.js";
import { streamRequestHeaders } from "../../src/proxy/headers.js";
import { adminFetch, ALICE, decodeClaims, devToken, McpSession, originReceived, readReply, worker, type Identity } from "../support/mcp-client.js";
import { devTokenAuthenticatedAgo } from "../support/tokens.js";

/** What the demo origin received, with the fields these tests read. */
async function received() {
  return (await originReceived()) as Array<{ id?: unknown; protocolVersion?: string; params?: Record<string, any>; mcpMethod?: string; mcpName?: string }>;
}

/** Regression tests for issue 10, findings 1, 2, 6 and 7, each named after its finding. */
const TASKS_EXT = "io.modelcontextprotocol/tasks";
const V2026 = "2026-07-28";

function meta2026(declareExtension: boolean) {
  return {
    "io.modelcontextprotocol/protocolVersion": V2026,
    "io.modelcontextprotocol/clientInfo": { name: "t", version: "0" },
    "io.modelcontextprotocol/clientCapabilities": declareExtension ? { extensions: { [TASKS_EXT]: {} } } : {},
  };
}

let nextId = 1;
/** A 2026-07-28 request as a conforming client sends it (header, _meta, Mcp-Method, Mcp-Name). */
async function call2026(token: string, method: string, params: Record<string, unknown>, options: { name?: string; declareExtension?: boolean } = {}) {
  const id = `f10-${nextId++}`;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${token}`,
    "mcp-protocol-version": V2026,
    "mcp-method": method,
  };
  if (options.name !== undefined) headers["mcp-name"] = options.name;
  const body = { jsonrpc: "2.0", id, method, params: { ...params, _meta: meta2026(options.declareExtension ?? true) } };
  return readReply(await worker().fetch("https://taskward.test/mcp", { method: "POST", headers, body: JSON.stringify(body) }), id);
}

async function poll2026(token: string, handle: string, declareExtension: boolean): Promise<Record<string, any>> {
  for (let i = 0; i < 100; i++) {
    const got = await call2026(token, "tasks/get", { taskId: handle }, { name: handle, declareExtension });
    const result = got.reply?.result;
    expect(got.reply?.error, JSON.stringify(got.messages)).toBeUndefined();
    if (["completed", "failed", "cancelled"].includes(result?.status)) return result;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("task never ended");
}

async function auditTypes(tenant: string, jti: string): Promise<string[]> {
  const { events } = await ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, tenant).auditEvents(tenant);
  return events.filter((e) => e.jti === jti).map((e) => `${e.type}:${e.reason ?? ""}`);
}

describe("finding 1: get-only handle reads result via 2026 tasks/get", () => {
  it("a 2025 handle whose ops are [get] (always_fails) polled by a 2026 tasks/get without the extension gets status, no payload", async () => {
    const who: Identity = { ...ALICE, sub: "f1-dual" };
    const session = await McpSession.open(who);
    const { handle } = await session.createTask("always_fails", {});
    expect(decodeClaims(handle).ops).toEqual(["get"]);
    await session.waitForStatus(handle, ["failed", "completed"]);
    const status = await poll2026(await devToken(who), handle, false);
    expect(status.taskId).toBe(handle);
    expect(status).not.toHaveProperty("result");
    expect(status).not.toHaveProperty("error");
    const again = await poll2026(await devToken(who), handle, false);
    expect(again).not.toHaveProperty("result");
    // Audited once, not once per poll (polls keep folding into one counted event).
    const types = await auditTypes(who.tenant, decodeClaims(handle).jti);
    expect(types.filter((t) => t === "withheld:result")).toHaveLength(1);
  });

  it("a 2026 task under step-up for result (long_job, maxAuthAgeSeconds 300): an old login polls status only, a fresh one gets the result", async () => {
    const who: Identity = { ...ALICE, sub: "f1-stepup" };
    const fresh = await devToken(who);
    const created = await call2026(fresh, "tools/call", { name: "long_job", arguments: { seconds: 0.1 } }, { name: "long_job" });
    const handle = created.reply?.result?.taskId as string;
    expect(created.reply?.result?.resultType, JSON.stringify(created.messages)).toBe("task");
    const stale = await devTokenAuthenticatedAgo(who, 1000);
    const withheld = await poll2026(stale, handle, true);
    expect(withheld.status).toBe("completed");
    expect(withheld).not.toHaveProperty("result");
    const delivered = await poll2026(fresh, handle, true);
    expect(delivered.result?.content?.[0]?.text).toContain("long_job done");
  });

  it("an operator-delegated get-only handle of a 2026 task polls status without the payload, while its owner gets it", async () => {
    const owner: Identity = { ...ALICE, sub: "f1-owner" };
    const delegate: Identity = { ...ALICE, client_id: "f1-console", sub: "f1-oncall" };
    const ownerToken = await devToken(owner);
    const created = await call2026(ownerToken, "tools/call", { name: "slow_compute", arguments: { seconds: 0.1, label: "f1-delegated" } }, { name: "slow_compute" });
    const handle = created.reply?.result?.taskId as string;
    const delegated = await adminFetch("/delegations", { method: "POST", body: JSON.stringify({ handle, to: { client_id: delegate.client_id, sub: delegate.sub }, ops: ["get"] }) });
    expect(delegated.status).toBe(201);
    const { handle: child } = (await delegated.json()) as { handle: string };
    const status = await poll2026(await devToken(delegate), child, true);
    expect(status.status).toBe("completed");
    expect(status).not.toHaveProperty("result");
    expect((await poll2026(ownerToken, handle, true)).result?.content?.[0]?.text).toContain("f1-delegated");
  });

  it("a withheld payload does not start the post-delivery revocation grace", async () => {
    const who: Identity = { ...ALICE, sub: "f1-grace" };
    const session = await McpSession.open(who);
    const { handle } = await session.createTask("always_fails", {});
    await session.waitForStatus(handle, ["failed", "completed"]);
    await poll2026(await devToken(who), handle, false);
    expect(await auditTypes(who.tenant, decodeClaims(handle).jti)).not.toContain("terminal:delivered");
  });
});

describe("finding 2: revision confusion between edge and origin", () => {
  /** A POST inside a 2025-11-25 session with no MCP-Protocol-Version header. */
  async function postWithoutVersionHeader(session: McpSession, body: Record<string, unknown>) {
    const headers = session.headers();
    delete headers["mcp-protocol-version"];
    return readReply(await worker().fetch("https://taskward.test/mcp", { method: "POST", headers, body: JSON.stringify(body) }), body.id);
  }

  it("no header + _meta claiming 2026 + params.task on a policy-forbidden tool is refused (-32020) and never reaches the origin", async () => {
    const session = await McpSession.open({ ...ALICE, sub: "f2-forbidden" });
    const marker = `f2-forbidden-${crypto.randomUUID()}`;
    const reply = await postWithoutVersionHeader(session, {
      jsonrpc: "2.0",
      id: marker,
      method: "tools/call",
      params: { name: "summarize", arguments: { text: marker }, task: { ttl: 60_000 }, _meta: meta2026(false) },
    });
    expect(reply.status).toBe(400);
    expect(reply.reply?.error?.code).toBe(-32020);
    expect((await received()).some((m) => m.id === marker)).toBe(false);
  });

  it("no header + _meta claiming 2026 with the extension declared but no params.task cannot run a required tool synchronously", async () => {
    const session = await McpSession.open({ ...ALICE, sub: "f2-required" });
    const marker = `f2-required-${crypto.randomUUID()}`;
    const reply = await postWithoutVersionHeader(session, {
      jsonrpc: "2.0",
      id: marker,
      method: "tools/call",
      params: { name: "slow_echo", arguments: { text: marker, delayMs: 0 }, _meta: meta2026(true) },
    });
    expect(reply.status).toBe(400);
    expect(reply.reply?.error?.code).toBe(-32020);
    expect((await received()).some((m) => m.id === marker)).toBe(false);
  });

  it("a 2026 tools/call carrying a 2025 params.task reaches the origin re-encoded: 2026 header, 2026 _meta, no params.task", async () => {
    const marker = `f2-reencode-${crypto.randomUUID()}`;
    const token = await devToken({ ...ALICE, sub: "f2-reencode" });
    const reply = await call2026(token, "tools/call", { name: "greet", arguments: { name: marker }, task: { ttl: 1000 } }, { name: "greet", declareExtension: false });
    expect(reply.status).toBe(200);
    const seen = (await received()).filter((m) => m.id === reply.reply?.id);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.protocolVersion).toBe(V2026);
    expect(seen[0]!.params?._meta?.["io.modelcontextprotocol/protocolVersion"]).toBe(V2026);
    expect(seen[0]!.params).not.toHaveProperty("task");
  });
});

/** A TaskIdMapper over a fixed ownership table (the rewriting pass is pure; these shapes need a hostile origin). */
function mapper(owned: Record<string, string>): TaskIdMapper {
  return {
    async mint() {
      throw new Error("no creation in this context");
    },
    async resolve(ids) {
      return new Map(ids.filter((id) => id in owned).map((id) => [id, owned[id]!]));
    },
    observeStatus: () => undefined,
    observeDelivery: () => undefined,
    effectiveTtlMs: () => undefined,
    sealCursor: async (cursor) => `sealed(${cursor})`,
    knownNames: () => new Map(Object.entries(owned)),
    payloadAllowed: () => true,
    observeWithheld: () => undefined,
  };
}

describe("finding 6: outbound rewriting gaps", () => {
  it("a 2025 CreateTaskResult replayed on the GET stream (no creating request) does not pass with the raw id", async () => {
    const out = await rewriteOutboundMessage(
      { jsonrpc: "2.0", id: 7, result: { task: { taskId: "ORIGIN-RAW-1", status: "working", ttl: 1000 } } },
      { requestId: undefined, requestMethod: undefined, mapper: mapper({}), module: revision20251125 },
    );
    expect(JSON.stringify(out ?? {})).not.toContain("ORIGIN-RAW-1");
  });

  it("a message carrying error + params of a foreign notifications/tasks/status is dropped", async () => {
    const out = await rewriteOutboundMessage(
      { jsonrpc: "2.0", method: "notifications/tasks/status", error: { code: 1, message: "x" }, params: { taskId: "ORIGIN-FOREIGN", status: "working" } },
      { requestId: undefined, requestMethod: undefined, mapper: mapper({}), module: revision20251125 },
    );
    expect(JSON.stringify(out ?? {})).not.toContain("ORIGIN-FOREIGN");
  });

  it("related-task _meta on a creation response is rewritten", async () => {
    const creating: TaskIdMapper = { ...mapper({}), mint: async (task) => ({ handle: `H(${task.taskId})`, ttlMs: 1000 }) };
    const out = await rewriteOutboundMessage(
      {
        jsonrpc: "2.0",
        id: 3,
        result: { task: { taskId: "ORIGIN-NEW", status: "working", ttl: 1000 }, _meta: { "io.modelcontextprotocol/related-task": { taskId: "ORIGIN-NEW" } } },
      },
      { requestId: 3, requestMethod: "tools/call", mapper: creating, module: revision20251125, creates: true },
    );
    expect(JSON.stringify(out)).not.toContain('"ORIGIN-NEW"');
    expect((out?.result as any)._meta["io.modelcontextprotocol/related-task"].taskId).toBe("H(ORIGIN-NEW)");
  });

  it("SSE id:, event: and comment lines never carry origin ids verbatim", async () => {
    const transform = rewriteSseStream(async (m) => m);
    const writer = transform.writable.getWriter();
    const sse = [
      ": ORIGIN-COMMENT-ID\n\n",
      'id: ORIGIN-EVENT-ID\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n',
      'event: ORIGIN-EVENT-NAME\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n',
    ].join("");
    void writer.write(new TextEncoder().encode(sse)).then(() => writer.close());
    const text = await new Response(transform.readable).text();
    expect(text).toContain("notifications/message");
    expect(text).not.toContain("ORIGIN-");
  });

  it("SSE event ids reach the client sealed to the caller, and only that caller's Last-Event-ID opens", async () => {
    const keyRing = await loadKeyRing(await generateSigningJwks());
    const alice = eventIdSealer(keyRing, { tenant: "acme", clientId: "cli-a", subject: "alice" });
    const mallory = eventIdSealer(keyRing, { tenant: "acme", clientId: "cli-a", subject: "mallory" });
    const transform = rewriteSseStream(async (m) => m, (id) => alice.seal(id));
    const writer = transform.writable.getWriter();
    void writer.write(new TextEncoder().encode('id: ORIGIN-EVENT-7\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n')).then(() => writer.close());
    const text = await new Response(transform.readable).text();
    const sealed = /^id: (.+)$/m.exec(text)?.[1];
    expect(sealed).toBeDefined();
    expect(text).not.toContain("ORIGIN-");
    expect(await alice.open(sealed!)).toBe("ORIGIN-EVENT-7");
    expect(await mallory.open(sealed!)).toBeUndefined();
    expect(await alice.open("ORIGIN-EVENT-7")).toBeUndefined();
  });
});

describe("finding 7: routing headers only where checked", () => {
  it("a client response (to a server request) reaches the origin without Mcp-Method / Mcp-Name / Mcp-Param-*", async () => {
    const marker = `f7-response-${crypto.randomUUID()}`;
    const token = await devToken({ ...ALICE, sub: "f7" });
    const response = await worker().fetch("https://taskward.test/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": V2026,
        "mcp-method": "tools/call",
        "mcp-name": "delete_everything",
        "mcp-param-target": "all",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: marker, result: {} }),
    });
    await response.body?.cancel();
    const seen = (await received()).filter((m) => m.id === marker);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.mcpMethod).toBeUndefined();
    expect(seen[0]!.mcpName).toBeUndefined();
  });

  it("GET and DELETE never forward Mcp-Method / Mcp-Name / Mcp-Param-*", () => {
    const client = new Headers({ "mcp-protocol-version": V2026, "mcp-method": "tools/call", "mcp-name": "x", "mcp-param-target": "all", "mcp-session-id": "s1" });
    const forwarded = streamRequestHeaders(client, V2026);
    for (const name of ["mcp-method", "mcp-name", "mcp-param-target"]) expect(forwarded.get(name)).toBeNull();
    expect(forwarded.get("mcp-session-id")).toBe("s1");
  });
});
