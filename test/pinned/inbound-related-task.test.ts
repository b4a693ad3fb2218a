/**
 * A client's notification or response may name its task in _meta[related-task]: the caller's own
 * handle is swapped for the origin id; another principal's handle, or a raw origin id, is
 * removed before the message is forwarded. Observed in the demo origin's log (params are logged;
 * each case has its own MCP session).
 */
import { describe, expect, it } from "vitest";
import { McpSession, originReceived, originTaskIdOf } from "../support/mcp-client.js";

const RELATED = "io.modelcontextprotocol/related-task";

/** The progress notifications the origin received from `sub` (found by the caller its origin assertion names: client session ids are sealed). */
async function forwardedProgress(sub: string): Promise<Array<Record<string, any>>> {
  const entries = (await originReceived()) as Array<Record<string, any>>;
  return entries.filter((m) => m.assertion?.sub === sub && m.method === "notifications/progress");
}

async function notifyAbout(session: McpSession, taskId: string): Promise<void> {
  const response = await session.notify("notifications/progress", { progressToken: "p", progress: 1, _meta: { [RELATED]: { taskId } } });
  expect(response.status).toBe(202);
}

describe("related-task in a client notification", () => {
  it("the caller's own handle reaches the origin as the origin id", async () => {
    const sub = `own-${crypto.randomUUID().slice(0, 6)}`;
    const owner = await McpSession.open({ tenant: "pin-related", client_id: "c", sub });
    const { handle } = await owner.createTask("slow_echo", { text: "r", delayMs: 0 });
    await notifyAbout(owner, handle);
    const forwarded = await forwardedProgress(sub);
    expect(forwarded.map((m) => m.params?._meta?.[RELATED])).toEqual([{ taskId: await originTaskIdOf(handle) }]);
  });

  it("another principal's handle is removed, and so is a raw origin id", async () => {
    const owner = await McpSession.open({ tenant: "pin-related", client_id: "c", sub: `victim-${crypto.randomUUID().slice(0, 6)}` });
    const { handle } = await owner.createTask("slow_echo", { text: "r", delayMs: 0 });
    const intruderSub = `intruder-${crypto.randomUUID().slice(0, 6)}`;
    const intruder = await McpSession.open({ tenant: "pin-related", client_id: "c", sub: intruderSub });
    const originId = await originTaskIdOf(handle);
    await notifyAbout(intruder, handle);
    await notifyAbout(intruder, originId);
    const forwarded = await forwardedProgress(intruderSub);
    expect(forwarded).toHaveLength(2);
    for (const message of forwarded) expect(message.params?._meta ?? {}).not.toHaveProperty([RELATED]);
    expect(JSON.stringify(forwarded)).not.toContain(originId);
  });
});
