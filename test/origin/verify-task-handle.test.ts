import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { TASK_HANDLE_HEADER, TaskHandleError, taskHandleMiddleware, verifyTaskHandle, type TaskHandleVariables } from "../../src/origin/index.js";
import { McpSession, forwardedFor, originReceived, originTaskIdOf, worker } from "../support/mcp-client.js";

/** A task, and the origin-facing copy of its handle the edge forwarded on a poll. */
async function taskWithForwardedHandle(): Promise<{ handle: string; forwarded: string }> {
  const session = await McpSession.open();
  const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
  await session.request("tasks/get", { taskId: handle });
  const entry = (await originReceived()).find((m) => m.method === "tasks/get" && forwardedFor(m, handle));
  if (!entry?.handle) throw new Error("the origin received no handle for the poll");
  return { handle, forwarded: entry.handle };
}

/** `taskward/origin` as an origin running on Workers would use it, against real handles from the Worker. */
describe("taskward/origin in workerd", () => {
  it("verifies the forwarded handle with the published JWKS document, and refuses the client's copy", async () => {
    const { handle: clientHandle, forwarded: handle } = await taskWithForwardedHandle();
    const jwks = await (await worker().fetch("https://taskward.test/.well-known/jwks.json")).json();
    const claims = await verifyTaskHandle(handle, { issuer: "https://taskward.test", audience: inject("originUrl"), jwks: jwks as never });
    expect(claims.task).toBe(await originTaskIdOf(clientHandle));
    // The handle a client holds names no task: on its own it opens nothing at an origin.
    await expect(verifyTaskHandle(clientHandle, { issuer: "https://taskward.test", audience: inject("originUrl"), jwks: jwks as never })).rejects.toMatchObject({ code: "ERR_HANDLE_CLAIM", claim: "task" });
    expect(claims.tenant).toBe("acme");
    await expect(verifyTaskHandle(handle, { issuer: "https://taskward.test", audience: "https://elsewhere/mcp", jwks: jwks as never })).rejects.toBeInstanceOf(TaskHandleError);
    await expect(verifyTaskHandle(handle, { issuer: "https://taskward.test", audience: inject("originUrl"), jwks: { keys: [] } })).rejects.toMatchObject({ code: "ERR_HANDLE_KID_UNKNOWN" });
  });

  it("the Hono middleware exposes claims and refuses bad handles with 403", async () => {
    const { handle: clientHandle, forwarded: handle } = await taskWithForwardedHandle();
    const jwks = JSON.parse(inject("publicJwks"));
    const app = new Hono<{ Variables: TaskHandleVariables }>()
      .use("/mcp", taskHandleMiddleware({ issuer: "https://taskward.test", audience: inject("originUrl"), jwks, required: true }))
      .post("/mcp", (c) => c.json({ task: c.get("taskHandle")?.task }));
    const ok = await app.request("/mcp", { method: "POST", headers: { [TASK_HANDLE_HEADER]: handle } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ task: await originTaskIdOf(clientHandle) });
    const tampered = await app.request("/mcp", { method: "POST", headers: { [TASK_HANDLE_HEADER]: handle.slice(0, -3) + "AAA" } });
    expect(tampered.status).toBe(403);
    expect(await tampered.json()).toMatchObject({ code: "ERR_HANDLE_SIGNATURE" });
    const missing = await app.request("/mcp", { method: "POST" });
    expect(missing.status).toBe(403);
  });
});
