import { describe, expect, it } from "vitest";
import { parseClientMessage } from "../../src/mcp/envelope.js";
import { revision20260728 } from "../../src/mcp/revisions/2026-07-28.js";
import { checkHeadersAgreeWithBody, decodeHeaderValue, encodeHeaderValue } from "../../src/mcp/routing-headers.js";

function check(headers: Record<string, string>, body: unknown) {
  return () => checkHeadersAgreeWithBody(new Headers(headers), parseClientMessage(JSON.stringify(body)), revision20260728);
}

const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28" };

describe("=?base64?…?= header values", () => {
  it("round-trips non-ASCII, whitespace-edged and sentinel-shaped values, and leaves plain ASCII plain", () => {
    for (const value of ["tâche-✓", " padded ", "=?base64?abc?=", "line\nbreak", "日本語"]) {
      const encoded = encodeHeaderValue(value);
      expect(encoded).toMatch(/^=\?base64\?[A-Za-z0-9+/=]*\?=$/);
      expect(decodeHeaderValue(encoded)).toBe(value);
    }
    expect(encodeHeaderValue("eyJhbGciOi.abc_-.xyz")).toBe("eyJhbGciOi.abc_-.xyz");
    expect(decodeHeaderValue("plain-value")).toBe("plain-value");
  });

  it("refuses a sentinel whose payload is not UTF-8", () => {
    expect(() => decodeHeaderValue("=?base64?/w==?=")).toThrow(/Header mismatch/);
  });
});

describe("checkHeadersAgreeWithBody (2026-07-28)", () => {
  it("accepts agreeing headers, including an encoded Mcp-Name", () => {
    expect(check({ "mcp-method": "tasks/get", "mcp-name": "T-1", "mcp-protocol-version": "2026-07-28" }, { jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: "T-1", _meta: meta } })).not.toThrow();
    expect(check({ "mcp-name": encodeHeaderValue("outil-é") }, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "outil-é" } })).not.toThrow();
    expect(check({}, { jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: "T-1" } })).not.toThrow();
  });

  it("refuses each disagreement with -32020 and says which header", () => {
    const cases: Array<[Record<string, string>, unknown, RegExp]> = [
      [{ "mcp-method": "tasks/get" }, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } }, /Mcp-Method header value 'tasks\/get'/],
      [{ "mcp-name": "other" }, { jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: "T-1" } }, /Mcp-Name header value 'other' does not match body value 'T-1'/],
      [{ "mcp-name": "a" }, { jsonrpc: "2.0", id: 1, method: "resources/read", params: { uri: "b" } }, /Mcp-Name/],
    ];
    for (const [headers, body, message] of cases) {
      let refusal: unknown;
      try {
        check(headers, body)();
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toMatchObject({ code: "header_mismatch", rpcCode: -32020, status: 400, wireMessage: expect.stringMatching(message) });
    }
  });
});
