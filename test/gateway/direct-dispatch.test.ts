/**
 * Issue 14: a POST to /mcp or /mcp/<name> with a declared length skips Hono's router
 * (workerFetch in src/app.ts). It must answer exactly as the Hono app does — the same checks in
 * the same order — so each request here goes once through the Worker's fetch and once through
 * createApp().fetch, and status, content-type, challenge and body must be identical.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import worker from "../../src/index.js";
import { devToken, freshIdentity, tag } from "../adversarial/support.js";

interface Seen {
  status: number;
  contentType: string | null;
  challenge: string | null;
  body: string;
}

async function seen(fetcher: (request: Request, e: unknown, ctx: ExecutionContext) => Response | Promise<Response>, request: Request): Promise<Seen> {
  const ctx = createExecutionContext();
  const response = await fetcher(request, env, ctx);
  const body = await response.text();
  await waitOnExecutionContext(ctx);
  return { status: response.status, contentType: response.headers.get("content-type"), challenge: response.headers.get("www-authenticate"), body };
}

/** The same request through both paths; returns the direct path's answer once both agree. */
async function bothPaths(path: string, init: { headers: Record<string, string>; body: string }): Promise<Seen> {
  const build = () => new Request(`https://taskward.test${path}`, { method: "POST", headers: { "content-length": String(new TextEncoder().encode(init.body).byteLength), ...init.headers }, body: init.body });
  const direct = await seen((r, e, c) => worker.fetch(r, e as never, c), build());
  const hono = await seen((r, e, c) => createApp().fetch(r, e as never, c), build());
  expect(direct).toEqual(hono);
  return direct;
}

const MCP = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" };
const getTask = (taskId: string) => JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tasks/get", params: { taskId } });

describe("POST /mcp without Hono's router answers exactly as the Hono app", () => {
  it("a declared body over MAX_BODY_BYTES: 413, JSON-RPC, before authentication", async () => {
    const reply = await bothPaths("/mcp", { headers: MCP, body: JSON.stringify({ pad: "x".repeat(70_000) }) });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body).error.message).toBe("Request body exceeds the configured limit");
  });

  it("a foreign Origin: 403 before authentication, on /mcp and on /mcp/<name>", async () => {
    for (const path of ["/mcp", "/mcp/beta"]) {
      const reply = await bothPaths(path, { headers: { ...MCP, origin: "https://evil.example" }, body: getTask("x") });
      expect(reply.status).toBe(403);
    }
  });

  it("an unknown origin name: 404 plain JSON, nothing else checked", async () => {
    const reply = await bothPaths("/mcp/no-such-origin", { headers: MCP, body: getTask("x") });
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body).error).toBe("unknown_origin");
  });

  it("no credentials: 401 with the same challenge; a wrong content type: 415", async () => {
    const unauthenticated = await bothPaths("/mcp", { headers: MCP, body: getTask("x") });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.challenge).toContain("Bearer");
    const token = await devToken(freshIdentity(tag("t-direct")));
    const plain = await bothPaths("/mcp", { headers: { ...MCP, "content-type": "text/plain", authorization: `Bearer ${token}` }, body: getTask("x") });
    expect(plain.status).toBe(415);
  });

  it("an unknown task id, a duplicate taskId key and a \\u-escaped id: the same -32602 on both paths", async () => {
    const token = await devToken(freshIdentity(tag("t-direct")));
    const headers = { ...MCP, authorization: `Bearer ${token}` };
    for (const body of [getTask("not-a-handle"), '{"jsonrpc":"2.0","id":9,"method":"tasks/get","params":{"taskId":"a","taskId":"b"}}', '{"jsonrpc":"2.0","id":9,"method":"tasks/get","params":{"taskId":"\\u0061.b.c"}}']) {
      for (const path of ["/mcp", "/mcp/beta"]) {
        const reply = await bothPaths(path, { headers, body });
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body).error.code).toBe(-32602);
      }
    }
  });
});
