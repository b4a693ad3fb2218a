import { describe, expect, it } from "vitest";
import { rewriteOutboundMessage, type TaskIdMapper } from "../../src/mcp/rewrite.js";
import { revision20251125 as R25 } from "../../src/mcp/revisions/2025-11-25.js";
import { revision20260728 as R26 } from "../../src/mcp/revisions/2026-07-28.js";

const RELATED = "io.modelcontextprotocol/related-task";

function mapper(owned: Record<string, string>, extra: Partial<TaskIdMapper> = {}): TaskIdMapper & { minted: unknown[]; observed: Array<[string, string]>; delivered: unknown[] } {
  const minted: unknown[] = [];
  const observed: Array<[string, string]> = [];
  const delivered: unknown[] = [];
  return {
    minted,
    observed,
    delivered,
    observeDelivery: () => void delivered.push(true),
    async mint(task) {
      minted.push(task);
      return { handle: `H(${task.taskId})`, ttlMs: Math.min(task.ttlMs ?? 5000, 5000) };
    },
    async resolve(ids) {
      return new Map(ids.filter((id) => id in owned).map((id) => [id, owned[id]!]));
    },
    observeStatus: (id, status) => void observed.push([id, status]),
    effectiveTtlMs: (id) => (id in owned ? 5000 : undefined),
    sealCursor: async (cursor) => `sealed(${cursor})`,
    knownNames: () => new Map(Object.entries(owned)),
    payloadAllowed: () => true,
    observeWithheld: () => undefined,
    ...extra,
  };
}

describe("rewriteOutboundMessage", () => {
  it("mints a handle for a 2025-11-25 CreateTaskResult and caps its ttl", async () => {
    const m = mapper({});
    const out = await rewriteOutboundMessage(
      { jsonrpc: "2.0", id: 3, result: { task: { taskId: "o1", status: "working", ttl: 60_000, createdAt: "x" } } },
      { requestId: 3, requestMethod: "tools/call", mapper: m, module: R25, creates: true },
    );
    expect(out?.result).toEqual({ task: { taskId: "H(o1)", status: "working", ttl: 5000, createdAt: "x" } });
    expect(m.minted).toEqual([{ taskId: "o1", status: "working", ttlMs: 60_000 }]);
  });

  it("mints for a 2026-07-28 flat CreateTaskResult, and an unlimited ttl is capped", async () => {
    const m = mapper({});
    const out = await rewriteOutboundMessage(
      { jsonrpc: "2.0", id: "a", result: { resultType: "task", taskId: "o2", status: "working", ttlMs: null } },
      { requestId: "a", requestMethod: "tools/call", mapper: m, module: R26, creates: true },
    );
    expect(out?.result).toMatchObject({ taskId: "H(o2)", ttlMs: 5000 });
  });

  it("does not mint for a message that is not the response to this tools/call, and never passes its origin id", async () => {
    const m = mapper({});
    const out = await rewriteOutboundMessage(
      { jsonrpc: "2.0", id: 99, result: { task: { taskId: "o1", status: "working" } } },
      { requestId: 3, requestMethod: "tools/call", mapper: m, module: R25, creates: true },
    );
    expect(m.minted).toEqual([]);
    expect(out).toBeNull();
  });

  it("filters tasks/list to owned tasks, rewrites ids and seals the cursor", async () => {
    const out = await rewriteOutboundMessage(
      { jsonrpc: "2.0", id: 1, result: { tasks: [{ taskId: "mine", status: "completed", ttl: 60_000 }, { taskId: "theirs", status: "working" }], nextCursor: "theirs" } },
      { requestId: 1, requestMethod: "tasks/list", mapper: mapper({ mine: "H-mine" }), module: R25 },
    );
    expect(out?.result).toEqual({ tasks: [{ taskId: "H-mine", status: "completed", ttl: 5000 }], nextCursor: "sealed(theirs)" });
  });

  it("rewrites related-task metadata in results and drops messages about tasks the caller does not own", async () => {
    const m = mapper({ mine: "H-mine" });
    const result = await rewriteOutboundMessage({ jsonrpc: "2.0", id: 1, result: { content: [], _meta: { [RELATED]: { taskId: "mine" } } } }, { requestId: 1, requestMethod: "tasks/result", mapper: m, module: R25 });
    expect((result?.result as any)._meta[RELATED].taskId).toBe("H-mine");
    const foreignMeta = await rewriteOutboundMessage({ jsonrpc: "2.0", id: 1, result: { content: [], _meta: { [RELATED]: { taskId: "other" } } } }, { requestId: 1, requestMethod: "tasks/result", mapper: m, module: R25 });
    expect((foreignMeta?.result as any)._meta[RELATED]).toBeUndefined();
    const note = await rewriteOutboundMessage({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { taskId: "other", status: "working" } }, { requestId: undefined, requestMethod: undefined, mapper: m, module: R25 });
    expect(note).toBeNull();
    const elicit = await rewriteOutboundMessage({ jsonrpc: "2.0", id: 5, method: "elicitation/create", params: { message: "?", _meta: { [RELATED]: { taskId: "other" } } } }, { requestId: undefined, requestMethod: undefined, mapper: m, module: R25 });
    expect(elicit).toBeNull();
  });

  it("rewrites and observes status notifications for owned tasks", async () => {
    const m = mapper({ mine: "H-mine" });
    const out = await rewriteOutboundMessage({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { taskId: "mine", status: "completed", ttl: 60_000 } }, { requestId: undefined, requestMethod: undefined, mapper: m, module: R25 });
    expect(out?.params).toEqual({ taskId: "H-mine", status: "completed", ttl: 5000 });
    expect(m.observed).toEqual([["mine", "completed"]]);
  });

  it("scrubs known origin ids out of error text", async () => {
    const out = await rewriteOutboundMessage({ jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Task mine has no result stored", data: { taskId: "mine" } } }, { requestId: 1, requestMethod: "tasks/result", mapper: mapper({ mine: "H-mine" }), module: R25 });
    expect(out?.error).toEqual({ code: -32603, message: "Task H-mine has no result stored", data: { taskId: "H-mine" } });
  });
});

describe("rewriteOutboundMessage: shapes the sampled mutants showed unpinned", () => {
  it("drops a notification whose nested task is not the caller's, and rewrites the caller's own", async () => {
    const m = mapper({ mine: "H(mine)" });
    const context = { requestId: undefined, requestMethod: undefined, mapper: m, module: R25 };
    const theirs = await rewriteOutboundMessage({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { task: { taskId: "theirs", status: "working" } } }, context);
    expect(theirs).toBeNull();
    const mine = await rewriteOutboundMessage({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { task: { taskId: "mine", status: "working" } } }, context);
    expect(mine?.params).toEqual({ task: { taskId: "H(mine)", status: "working" } });
  });

  it("a 2026-07-28 tasks/get answer carrying a completed task's result inline is a delivery; a working one is not", async () => {
    const done = mapper({ o1: "H(o1)" });
    await rewriteOutboundMessage({ jsonrpc: "2.0", id: 7, result: { taskId: "o1", status: "completed", result: { content: [] } } }, { requestId: 7, requestMethod: "tasks/get", mapper: done, module: R26 });
    expect(done.delivered).toEqual([true]);
    const working = mapper({ o1: "H(o1)" });
    await rewriteOutboundMessage({ jsonrpc: "2.0", id: 8, result: { taskId: "o1", status: "working" } }, { requestId: 8, requestMethod: "tasks/get", mapper: working, module: R26 });
    expect(working.delivered).toEqual([]);
  });
});
