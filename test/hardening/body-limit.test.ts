/** Issue 11, finding 5: one body limit (MAX_BODY_BYTES, 65536 in vitest.config.ts) on every endpoint that reads a body. */
import { describe, expect, it } from "vitest";
import { devToken, freshIdentity, tag, worker } from "../adversarial/support.js";

const LIMIT = 65_536;
const MESSAGE = "Request body exceeds the configured limit";

/** A JSON body of `size` bytes, sent with content-length, or streamed without one. */
function oversized(size: number, streamed: boolean): BodyInit {
  const text = JSON.stringify({ token: "x".repeat(size - 12) });
  if (!streamed) return text;
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 16_384) controller.enqueue(bytes.slice(at, at + 16_384));
      controller.close();
    },
  });
}

describe("finding 5: every endpoint that reads a body refuses one over MAX_BODY_BYTES with 413", () => {
  const endpoints: Array<{ path: string; auth: "caller" | "admin" | "introspection" | "none" }> = [
    { path: "/revoke", auth: "caller" },
    { path: "/introspect", auth: "introspection" },
    { path: "/delegations", auth: "caller" },
    { path: "/dev/token", auth: "none" },
    { path: "/admin/revocations", auth: "admin" },
    { path: "/admin/delegations", auth: "admin" },
    { path: "/admin/tenants/acme/api-keys", auth: "admin" },
  ];

  for (const streamed of [false, true]) {
    for (const { path, auth } of endpoints) {
      it(`${path} (${streamed ? "streamed, no content-length" : "content-length"})`, async () => {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (auth === "caller") headers.authorization = `Bearer ${await devToken(freshIdentity(tag("t-body")))}`;
        if (auth === "admin") headers.authorization = "Bearer test-admin-token";
        if (auth === "introspection") headers.authorization = "Bearer test-introspection-token";
        const response = await worker().fetch(`https://taskward.test${path}`, { method: "POST", headers, body: oversized(8 * 1024 * 1024, streamed), ...(streamed ? { duplex: "half" } : {}) } as RequestInit);
        expect(response.status).toBe(413);
        expect(await response.json()).toEqual({ error: "body_too_large", message: MESSAGE });
      });
    }
  }

  it("/mcp answers 413 with the JSON-RPC error", async () => {
    const token = await devToken(freshIdentity(tag("t-body")));
    const response = await worker().fetch("https://taskward.test/mcp", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-11-25" },
      body: oversized(LIMIT + 1, false),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: MESSAGE } });
  });

  it("a body at the limit still passes", async () => {
    const response = await worker().fetch("https://taskward.test/dev/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant: "acme", client_id: "c", sub: "s" }).padEnd(LIMIT, " "),
    });
    expect(response.status).toBe(200);
  });
});
