import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { TASK_HANDLE_HEADER, TaskHandleError, taskHandleMiddleware, verifyTaskHandle, type TaskHandleVariables } from "../../src/origin/index.js";
import { McpSession, decodeClaims, worker } from "../support/mcp-client.js";

/** `taskward/origin` as an origin running on Workers would use it, against real handles from the Worker. */
describe("taskward/origin in workerd", () => {
  it("verifies a live handle with the published JWKS document", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    const jwks = await (await worker().fetch("https://taskward.test/.well-known/jwks.json")).json();
    const claims = await verifyTaskHandle(handle, { issuer: "https://taskward.test", audience: inject("originUrl"), jwks: jwks as never });
    expect(claims.task).toBe(decodeClaims(handle).task);
    expect(claims.tenant).toBe("acme");
    await expect(verifyTaskHandle(handle, { issuer: "https://taskward.test", audience: "https://elsewhere/mcp", jwks: jwks as never })).rejects.toBeInstanceOf(TaskHandleError);
    await expect(verifyTaskHandle(handle, { issuer: "https://taskward.test", audience: inject("originUrl"), jwks: { keys: [] } })).rejects.toMatchObject({ code: "ERR_HANDLE_KID_UNKNOWN" });
  });

  it("the Hono middleware exposes claims and refuses bad handles with 403", async () => {
    const session = await McpSession.open();
    const { handle } = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    const jwks = JSON.parse(inject("publicJwks"));
    const app = new Hono<{ Variables: TaskHandleVariables }>()
      .use("/mcp", taskHandleMiddleware({ issuer: "https://taskward.test", audience: inject("originUrl"), jwks, required: true }))
      .post("/mcp", (c) => c.json({ task: c.get("taskHandle")?.task }));
    const ok = await app.request("/mcp", { method: "POST", headers: { [TASK_HANDLE_HEADER]: handle } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ task: decodeClaims(handle).task });
    const tampered = await app.request("/mcp", { method: "POST", headers: { [TASK_HANDLE_HEADER]: handle.slice(0, -3) + "AAA" } });
    expect(tampered.status).toBe(403);
    expect(await tampered.json()).toMatchObject({ code: "ERR_HANDLE_SIGNATURE" });
    const missing = await app.request("/mcp", { method: "POST" });
    expect(missing.status).toBe(403);
  });
});
