/**
 * Exact limits at the edge, pinned through the public surfaces: the /mcp body limit
 * (MAX_BODY_BYTES=65536 in vitest.config.ts) and the admin credential compare.
 */
import { describe, expect, it } from "vitest";
import { McpSession, adminFetch, originReceived, readReply, worker } from "../support/mcp-client.js";

const LIMIT = 65_536;

/** A JSON-RPC ping of exactly `size` bytes (ASCII), tagged with a unique id. */
function pingOfSize(size: number, id: string): string {
  const empty = JSON.stringify({ jsonrpc: "2.0", id, method: "ping", params: { pad: "" } });
  const body = JSON.stringify({ jsonrpc: "2.0", id, method: "ping", params: { pad: "x".repeat(size - empty.length) } });
  expect(new TextEncoder().encode(body).length).toBe(size);
  return body;
}

/** A body with no content-length: the limit must hold while streaming, not just on the header. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 8192) controller.enqueue(bytes.slice(at, at + 8192));
      controller.close();
    },
  });
}

async function forwardedWithId(id: string): Promise<number> {
  return (await originReceived()).filter((entry) => JSON.stringify(entry).includes(id)).length;
}

describe("/mcp body limit is exactly MAX_BODY_BYTES", () => {
  for (const mode of ["content-length", "streamed"] as const) {
    it(`${mode}: ${LIMIT} bytes are accepted and forwarded`, async () => {
      const session = await McpSession.open({ tenant: "limits", client_id: "c", sub: `at-${mode}` });
      const id = `at-limit-${mode}-${crypto.randomUUID()}`;
      const body = pingOfSize(LIMIT, id);
      const response = await worker().fetch("https://taskward.test/mcp", { method: "POST", headers: session.headers(), body: mode === "streamed" ? streamed(body) : body });
      const reply = await readReply(response, id);
      expect({ status: reply.status, reply: reply.reply }).toEqual({ status: 200, reply: { jsonrpc: "2.0", id, result: {} } });
      expect(await forwardedWithId(id)).toBe(1);
    });

    it(`${mode}: ${LIMIT + 1} bytes are refused 413 / -32600 and not forwarded`, async () => {
      const session = await McpSession.open({ tenant: "limits", client_id: "c", sub: `over-${mode}` });
      const id = `over-limit-${mode}-${crypto.randomUUID()}`;
      const body = pingOfSize(LIMIT + 1, id);
      const response = await worker().fetch("https://taskward.test/mcp", { method: "POST", headers: session.headers(), body: mode === "streamed" ? streamed(body) : body });
      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Request body exceeds the configured limit" } });
      expect(await forwardedWithId(id)).toBe(0);
    });
  }
});

describe("admin credential compare", () => {
  const TOKEN = "test-admin-token";
  const path = "/tenants/admin-compare/tasks";

  it("the exact token is accepted", async () => {
    const response = await adminFetch(path, {}, TOKEN);
    expect(response.status).toBe(200);
  });

  for (const [label, presented] of [
    ["token followed by one character", `${TOKEN}x`],
    // (A trailing space alone never arrives: the Headers API strips it.)
    ["token, a space and more", `${TOKEN} x`],
    ["token followed by the token", `${TOKEN}${TOKEN}`],
    ["a prefix of the token", TOKEN.slice(0, -1)],
    ["the first character only", TOKEN.slice(0, 1)],
    ["same length, last character changed", `${TOKEN.slice(0, -1)}X`],
    ["same length, first character changed", `X${TOKEN.slice(1)}`],
  ] as const) {
    it(`${label} is refused 401`, async () => {
      const response = await adminFetch(path, {}, presented);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="taskward-admin"');
      expect(await response.json()).toEqual({ error: "admin_unauthorized", message: "A valid admin credential is required" });
    });
  }

  it("a missing or non-Bearer credential is refused 401", async () => {
    for (const authorization of ["", "Bearer ", `Basic ${TOKEN}`, TOKEN]) {
      const response = await worker().fetch(`https://taskward.test/admin${path}`, { headers: authorization ? { authorization } : {} });
      expect(response.status, authorization).toBe(401);
    }
  });
});
