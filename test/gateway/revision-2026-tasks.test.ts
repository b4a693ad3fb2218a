import { describe, expect, it } from "vitest";
import { ALICE, call2026, decodeClaims, decodedForm, originReceived, type Identity, forwardedFor, originTaskIdOf } from "../support/mcp-client.js";

/** The 2026-07-28 tasks extension end to end in workerd: the real Worker, ledger and demo origin's 2026 mode. */

let nextId = 1;
/** One 2026-07-28 call to /mcp, declaring the tasks extension and form elicitation. */
function call(identity: Identity, method: string, params: Record<string, unknown>, name?: string) {
  return call2026(identity, method, params, { name, id: nextId++, capabilities: { elicitation: { form: {} } } });
}

async function createTask(identity: Identity, tool: string, args: Record<string, unknown>) {
  const created = await call(identity, "tools/call", { name: tool, arguments: args }, tool);
  const result = created.reply?.result;
  expect(result?.resultType, created.text).toBe("task");
  return { handle: result.taskId as string, result, created };
}

async function pollUntil(identity: Identity, handle: string, statuses: string[]) {
  for (let i = 0; i < 100; i++) {
    const got = await call(identity, "tasks/get", { taskId: handle }, handle);
    if (statuses.includes(got.reply?.result?.status)) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never reached ${statuses}`);
}

describe("2026-07-28 tasks through the authority", () => {
  it("mints a handle for a flat CreateTaskResult, caps ttlMs, and never shows the origin id", async () => {
    const { handle, result, created } = await createTask(ALICE, "slow_compute", { seconds: 0.2, label: "x" });
    const claims = decodeClaims(handle);
    expect(claims).toMatchObject({ mcp: "2026-07-28", ops: ["get", "result", "update", "cancel"], tool: "slow_compute" });
    expect(result.ttlMs).toBeLessThanOrEqual(86_400_000);
    expect(created.text).not.toContain(await originTaskIdOf(handle));
  });

  it("polls with the result inline, forwards Mcp-Name = the origin id with the handle header", async () => {
    const { handle } = await createTask(ALICE, "slow_compute", { seconds: 0.1, label: "inline" });
    const task = await originTaskIdOf(handle);
    const done = await pollUntil(ALICE, handle, ["completed"]);
    expect(done.reply?.result).toMatchObject({ resultType: "complete", taskId: handle, status: "completed" });
    expect(done.reply?.result.result.content[0].text).toContain("inline");
    expect(done.text).not.toContain(task);
    const forwarded = (await originReceived()).filter((m) => m.method === "tasks/get" && m.taskId === task);
    expect(forwarded.length).toBeGreaterThan(0);
    for (const m of forwarded) {
      expect(m.mcpName).toBe(task);
      expect(forwardedFor(m, handle)).toBe(true);
    }
  });

  it("answers input_required, resumes with tasks/update, and cancels with an empty ack", async () => {
    const who = { ...ALICE, sub: "mrtr" };
    const { handle } = await createTask(who, "confirm_delete", { filename: "a.txt" });
    const parked = await pollUntil(who, handle, ["input_required"]);
    const keys = Object.keys(parked.reply?.result.inputRequests ?? {});
    expect(keys.length).toBe(1);
    const update = await call(who, "tasks/update", { taskId: handle, inputResponses: { [keys[0]!]: { action: "accept", content: { confirm: true } } } }, handle);
    expect(update.reply?.result).toMatchObject({ resultType: "complete" });
    expect(update.reply?.result.taskId).toBeUndefined();
    await pollUntil(who, handle, ["completed"]);

    const { handle: long } = await createTask(who, "slow_compute", { seconds: 30, label: "cancel-me" });
    const cancelled = await call(who, "tasks/cancel", { taskId: long }, long);
    expect(cancelled.reply?.result).toMatchObject({ resultType: "complete" });
    await pollUntil(who, long, ["cancelled", "failed", "completed"]);
  });

  it("refuses another principal's 2026 handle like an unknown task, for get, update and cancel", async () => {
    const { handle } = await createTask(ALICE, "slow_compute", { seconds: 0.1, label: "mine" });
    const task = await originTaskIdOf(handle);
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      const refused = await call({ ...ALICE, sub: "mallory" }, method, { taskId: handle, ...(method === "tasks/update" ? { inputResponses: {} } : {}) }, handle);
      expect(refused.reply?.error).toEqual({ code: -32602, message: "Task not found" });
    }
    // Nobody followed this task up, so any log entry naming it would be a forwarded refusal.
    expect((await originReceived()).filter((m) => m.taskId === task || forwardedFor(m, handle))).toEqual([]);
  });

  it("subscriptions/listen: acknowledges only the caller's own handles and sends notifications/tasks with handles", async () => {
    const who = { ...ALICE, sub: "listener" };
    const { handle } = await createTask(who, "slow_compute", { seconds: 0.3, label: "listen" });
    const { handle: foreign } = await createTask({ ...ALICE, sub: "other" }, "slow_compute", { seconds: 0.3, label: "theirs" });
    const listened = await call(who, "subscriptions/listen", { notifications: { taskIds: [handle, foreign, "not-a-handle"] } });
    const ack = listened.messages.find((m) => m.method === "notifications/subscriptions/acknowledged");
    expect(ack?.params.notifications.taskIds).toEqual([handle]);
    const updates = listened.messages.filter((m) => m.method === "notifications/tasks");
    expect(updates.length).toBeGreaterThan(0);
    expect(new Set(updates.map((m) => m.params.taskId))).toEqual(new Set([handle]));
    expect(decodedForm(listened.text)).not.toContain(await originTaskIdOf(handle));
    expect(decodedForm(listened.text)).not.toContain(await originTaskIdOf(foreign));
  });
});
