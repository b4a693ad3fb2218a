import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";
import { moduleFor } from "../../src/mcp/revisions/index.js";
import { ALICE, decodeClaims, McpSession, originReceived, readReply, worker, type Identity } from "../support/mcp-client.js";

/**
 * Property over the revision signals a request can carry (header present/absent/other, `_meta`
 * version, params.protocolVersion, extension declared or not, params.task present or not), sent
 * through the real Worker to the real demo origin inside a 2025-11-25 session:
 * - a request is refused with 400 / -32020 exactly when its signals disagree, and then never reaches the origin;
 * - an accepted request reaches the origin once, with MCP-Protocol-Version = the decided revision
 *   and a body that revision reads one way only (no other revision's version claim or task request);
 * - the origin was asked for a task exactly when the client got a handle, and every handle has
 *   its ledger record and its issued event (which is what counts against the creation limit).
 * The session-revision signal is covered by direct tests of decideRevision (test/mcp/revision-decision.test.ts).
 */
const V2025 = "2025-11-25";
const V2026 = "2026-07-28";
const TASKS_EXT = "io.modelcontextprotocol/tasks";
const VERSION_META = "io.modelcontextprotocol/protocolVersion";
const CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities";

const signals = fc.record({
  header: fc.constantFrom(undefined, V2025, V2026, "2024-11-05", "2099-01-01"),
  metaVersion: fc.constantFrom(undefined, V2025, V2026),
  paramsProtocolVersion: fc.constantFrom(undefined, V2025, V2026),
  declareExtension: fc.boolean(),
  taskParam: fc.boolean(),
  // slow_echo: a task tool in both revisions; summarize: policy forbids it as a task.
  tool: fc.constantFrom("slow_echo", "summarize"),
});

type Signals = typeof signals extends fc.Arbitrary<infer T> ? T : never;

/** The oracle, written independently of src/: no session, so the header or else 2025-11-25. */
function expectedRevision(s: Signals): string | "mismatch" {
  const decided = s.header ?? V2025;
  if (s.metaVersion !== undefined && s.metaVersion !== decided) return "mismatch";
  if (s.paramsProtocolVersion !== undefined && s.paramsProtocolVersion !== decided) return "mismatch";
  return decided;
}

let run = 0;

describe("property: the origin reads every request under the revision the edge decided", () => {
  it("holds for every combination of revision signals", async () => {
    await fc.assert(
      fc.asyncProperty(signals, async (s) => {
        // A tenant of its own per run: its ledger holds only this run's events, and no rate limit carries over.
        const who: Identity = { ...ALICE, tenant: `prop-${run++}-${crypto.randomUUID().slice(0, 8)}` };
        const session = await McpSession.open(who);
        const marker = `prop-${crypto.randomUUID()}`;
        const meta: Record<string, unknown> = {};
        if (s.metaVersion !== undefined) meta[VERSION_META] = s.metaVersion;
        if (s.declareExtension) meta[CAPABILITIES_META] = { extensions: { [TASKS_EXT]: {} } };
        const params: Record<string, unknown> = { name: s.tool, arguments: { text: marker, ...(s.tool === "slow_echo" ? { delayMs: 0 } : {}) }, _meta: meta };
        if (s.paramsProtocolVersion !== undefined) params.protocolVersion = s.paramsProtocolVersion;
        if (s.taskParam) params.task = { ttl: 60_000 };
        const headers = session.headers({ "mcp-method": "tools/call", "mcp-name": s.tool });
        delete headers["mcp-protocol-version"];
        if (s.header !== undefined) headers["mcp-protocol-version"] = s.header;
        const reply = await readReply(
          await worker().fetch("https://taskward.test/mcp", { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: marker, method: "tools/call", params }) }),
          marker,
        );
        const seen = ((await originReceived()) as Array<{ id?: unknown; protocolVersion?: string; params?: Record<string, any> }>).filter((m) => m.id === marker);
        const expected = expectedRevision(s);

        if (expected === "mismatch") {
          expect([reply.status, reply.reply?.error?.code]).toEqual([400, -32020]);
          expect(seen).toEqual([]);
          return;
        }
        // Policy refusals (forbidden task request, required tool without one) are decided at the edge and never forwarded.
        if (seen.length === 0) {
          expect(reply.reply?.error, JSON.stringify(reply.messages)).toBeDefined();
          expect(JSON.stringify(reply.messages)).not.toContain("resultType\":\"task");
          return;
        }
        expect(seen).toHaveLength(1);
        const forwarded = seen[0]!;
        expect(forwarded.protocolVersion).toBe(expected);
        const forwardedMeta = (forwarded.params?._meta ?? {}) as Record<string, unknown>;
        const module = moduleFor(expected);
        if (module.taskProtocol === "extension") {
          expect(forwarded.params).not.toHaveProperty("task");
          if (VERSION_META in forwardedMeta) expect(forwardedMeta[VERSION_META]).toBe(expected);
        } else {
          expect(forwardedMeta).not.toHaveProperty(VERSION_META);
          expect(forwardedMeta).not.toHaveProperty(CAPABILITIES_META);
        }

        const askedForTask = module.asksForTask(forwarded.params);
        if (s.tool === "summarize") expect(askedForTask).toBe(false);
        const result = reply.reply?.result as Record<string, any> | undefined;
        const handle: unknown = result?.task?.taskId ?? (result?.resultType === "task" ? result.taskId : undefined);
        const succeeded = reply.reply !== undefined && reply.reply.error === undefined;
        // The origin creates a task exactly when it was asked to and answered without error; each such task has a handle.
        expect(typeof handle === "string", JSON.stringify({ s, forwarded, reply: reply.messages })).toBe(askedForTask && succeeded);
        if (typeof handle === "string") {
          const claims = decodeClaims(handle);
          expect(claims.mcp).toBe(expected);
          const ledger = ledgerFor((env as unknown as WorkerEnv).TASK_LEDGER, who.tenant);
          expect(await ledger.task(who.tenant, claims.jti)).toMatchObject({ tool: s.tool, mcp: expected });
          const { events } = await ledger.auditEvents(who.tenant);
          expect(events.some((e) => e.type === "issued" && e.jti === claims.jti)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});
