/** ORIGINS: parsed once in parseConfig, the first entry the default; every mistake is a ConfigError that says what is wrong. */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type WorkerEnv } from "../../src/config.js";

const base = { TASKWARD_ISSUER: "https://tw.example", DEV_MODE: "false" } as unknown as WorkerEnv;

function withOrigins(origins: unknown, extra: Record<string, string> = {}) {
  return parseConfig({ ...base, ...extra, ORIGINS: typeof origins === "string" ? origins : JSON.stringify(origins) });
}

describe("ORIGINS", () => {
  it("without ORIGINS, ORIGIN_URL alone is one origin named default, served at /mcp", () => {
    const config = parseConfig({ ...base, ORIGIN_URL: "https://origin.example/mcp/" });
    expect(config.origins).toEqual([expect.objectContaining({ name: "default", url: "https://origin.example/mcp", audience: "https://origin.example/mcp", isDefault: true })]);
    expect(config.origin).toBe(config.origins[0]);
    expect(config.originUrl).toBe("https://origin.example/mcp");
    expect(config.handleAudience).toBe("https://origin.example/mcp");
  });

  it("the first entry is the default; audience defaults to the url; an entry's policy replaces TASK_POLICY for it", () => {
    const config = withOrigins(
      [
        { name: "legacy", url: "http://127.0.0.1:9000/mcp" },
        { name: "modern-2", url: "https://b.example/mcp", audience: "https://b.example/", policy: { tools: { x: { taskSupport: "forbidden" } } } },
      ],
      { TASK_POLICY: JSON.stringify({ tools: { y: { maxTtlSeconds: 5 } } }) },
    );
    expect(config.origins.map((o) => [o.name, o.url, o.audience, o.isDefault])).toEqual([
      ["legacy", "http://127.0.0.1:9000/mcp", "http://127.0.0.1:9000/mcp", true],
      ["modern-2", "https://b.example/mcp", "https://b.example", false],
    ]);
    expect(config.origins[0]!.policy.tools).toEqual({ y: { maxTtlSeconds: 5 } });
    expect(config.origins[1]!.policy.tools).toEqual({ x: { taskSupport: "forbidden" } });
    expect(config.origins[0]!.policyVersion).not.toBe(config.origins[1]!.policyVersion);
    expect(config.handleAudience).toBe("http://127.0.0.1:9000/mcp");
  });

  it("keeps today's policy version for the default origin", () => {
    const policy = JSON.stringify({ tools: { y: { maxTtlSeconds: 5 } } });
    const alone = parseConfig({ ...base, ORIGIN_URL: "https://a.example/mcp", TASK_POLICY: policy });
    const listed = withOrigins([{ name: "a", url: "https://a.example/mcp" }, { name: "b", url: "https://b.example/mcp" }], { TASK_POLICY: policy });
    expect(listed.policyVersion).toBe(alone.policyVersion);
  });

  const errors: Array<[string, unknown, RegExp, Record<string, string>?]> = [
    ["not JSON", "[{", /^ORIGINS must be JSON: an array of \{name, url, audience\?, policy\?\}$/],
    ["not an array", { name: "a" }, /^ORIGINS must be a non-empty JSON array/],
    ["empty", [], /^ORIGINS must be a non-empty JSON array/],
    ["an entry not an object", ["a"], /^ORIGINS\[0\] must be an object \{name, url, audience\?, policy\?\}$/],
    ["a bad name", [{ name: "Bad_Name", url: "https://a.example" }], /^ORIGINS\[0\]\.name must be 1-32 characters of a-z, 0-9 and -, got "Bad_Name"$/],
    ["a name too long", [{ name: "a".repeat(33), url: "https://a.example" }], /^ORIGINS\[0\]\.name must be 1-32 characters/],
    ["a missing name", [{ url: "https://a.example" }], /^ORIGINS\[0\]\.name must be 1-32 characters of a-z, 0-9 and -, got undefined$/],
    ["a duplicate name", [{ name: "a", url: "https://a.example" }, { name: "a", url: "https://b.example" }], /^ORIGINS\[1\]\.name "a" is already the name of ORIGINS\[0\]$/],
    ["a relative url", [{ name: "a", url: "/mcp" }], /^ORIGINS\[0\]\.url must be an absolute URL, got "\/mcp"$/],
    ["a non-http url", [{ name: "a", url: "ftp://a.example/mcp" }], /^ORIGINS\[0\]\.url must be an absolute http\(s\) URL, got "ftp:\/\/a\.example\/mcp"$/],
    ["a missing url", [{ name: "a" }], /^ORIGINS\[0\]\.url must be an absolute http\(s\) URL, got undefined$/],
    ["a duplicate audience", [{ name: "a", url: "https://a.example" }, { name: "b", url: "https://b.example", audience: "https://a.example" }], /^ORIGINS\[1\]\.audience "https:\/\/a\.example" is already the audience of origin "a": each origin needs its own$/],
    ["a bad audience", [{ name: "a", url: "https://a.example", audience: 7 }], /^ORIGINS\[0\]\.audience must be a string/],
    ["an invalid policy", [{ name: "a", url: "https://a.example", policy: { tools: { t: { taskSupport: "sometimes" } } } }], /^ORIGINS\[0\]\.policy: tools\.t\.taskSupport: /],
    ["a policy not an object", [{ name: "a", url: "https://a.example", policy: "strict" }], /^ORIGINS\[0\]\.policy must be an object shaped like TASK_POLICY$/],
    ["an unknown key", [{ name: "a", url: "https://a.example", default: true }], /^ORIGINS\[0\] has unknown key "default" \(allowed: name, url, audience, policy; the first entry is the default\)$/],
    ["ORIGIN_URL disagreeing with the default", [{ name: "a", url: "https://a.example/mcp" }], /^ORIGIN_URL \(https:\/\/other\.example\/mcp\) differs from the default origin ORIGINS\[0\]\.url/, { ORIGIN_URL: "https://other.example/mcp" }],
  ];
  for (const [label, origins, message, extra] of errors) {
    it(`refuses ${label}`, () => {
      expect(() => withOrigins(origins, extra)).toThrow(ConfigError);
      expect(() => withOrigins(origins, extra)).toThrow(message);
    });
  }

  it("accepts ORIGIN_URL equal to the default entry's url", () => {
    expect(withOrigins([{ name: "a", url: "https://a.example/mcp" }], { ORIGIN_URL: "https://a.example/mcp/" }).originUrl).toBe("https://a.example/mcp");
  });

  it("without ORIGINS, ORIGIN_URL is still required", () => {
    expect(() => parseConfig(base)).toThrow(/^ORIGIN_URL is required$/);
  });
});
