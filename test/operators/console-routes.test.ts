import { describe, expect, it } from "vitest";
import { McpSession, adminFetch, decodeClaims, worker } from "../support/mcp-client.js";
import { operatorToken } from "./support.js";

async function get(path: string) {
  const response = await worker().fetch(`https://taskward.test${path}`);
  return { response, text: await response.text() };
}

describe("/console: a static page under a strict CSP", () => {
  it("serves the page, its script and its style with a CSP that allows nothing inline and nothing foreign", async () => {
    const page = await get("/console");
    expect(page.response.status).toBe(200);
    expect(page.response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.response.headers.get("content-security-policy")).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
    );
    expect(page.response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.response.headers.get("set-cookie")).toBeNull();
    // No inline code: every <script> has a src, no style attributes or elements, no on* handlers, no foreign URLs.
    expect(page.text.match(/<script\b[^>]*>/g)).toEqual(['<script src="/console/console.js" defer>']);
    expect(page.text).not.toMatch(/<style|style=|\son[a-z]+=|https?:\/\//i);
    // Every form control has a label.
    for (const [, id] of page.text.matchAll(/<(?:input|select)[^>]*\bid="([^"]+)"/g)) expect(page.text, id).toContain(`for="${id}"`);
    const script = await get("/console/console.js");
    expect(script.response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.text).not.toMatch(/innerHTML|document\.write|eval\(|new Function|localStorage|document\.cookie/);
    const style = await get("/console/console.css");
    expect(style.response.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(style.text).not.toMatch(/@import|url\(/);
  });
});

describe("admin API the console uses", () => {
  it("whoami names the operator; tasks filter by tool, status and time; a handle's history is its audit events", async () => {
    const tenant = "console-api";
    const operator = await operatorToken("viewer", ["taskward:read", "taskward:audit"], [tenant]);
    const whoami = await adminFetch("/whoami", {}, operator);
    expect(await whoami.json()).toEqual({ id: "https://taskward.test/dev#viewer", roles: ["taskward:read", "taskward:audit"], tenants: [tenant], breakGlass: false });
    expect(await (await adminFetch("/whoami")).json()).toEqual({ id: "break-glass", roles: ["taskward:read", "taskward:revoke", "taskward:cancel", "taskward:audit", "taskward:delegate", "taskward:api-keys"], tenants: "*", breakGlass: true });

    const session = await McpSession.open({ tenant, client_id: "app", sub: "alice" });
    const before = Date.now();
    const echo = await session.createTask("slow_echo", { text: "x", delayMs: 10 });
    await session.waitForStatus(echo.handle, ["completed"]);
    const long = await session.createTask("long_job", { seconds: 30 });
    const jtis = async (query: string) => ((await (await adminFetch(`/tenants/${tenant}/tasks?${query}`, {}, operator)).json()) as { tasks: Array<{ jti: string }> }).tasks.map((t) => t.jti);
    expect(await jtis("tool=long_job")).toEqual([decodeClaims(long.handle).jti]);
    expect(await jtis("status=completed")).toEqual([decodeClaims(echo.handle).jti]);
    expect(await jtis(`since=${before - 1}&sub=alice`)).toHaveLength(2);
    expect(await jtis(`since=${Date.now() + 60_000}`)).toEqual([]);
    expect((await adminFetch(`/tenants/${tenant}/tasks?since=yesterday`, {}, operator)).status).toBe(400);

    const history = (await (await adminFetch(`/tenants/${tenant}/tasks/${decodeClaims(echo.handle).jti}/audit`, {}, operator)).json()) as { events: Array<{ type: string; jti: string }> };
    expect(history.events.map((e) => e.type)).toEqual(expect.arrayContaining(["issued", "allowed", "terminal"]));
    expect(history.events.every((e) => e.jti === decodeClaims(echo.handle).jti)).toBe(true);
    const reader = await operatorToken("reader-only", ["taskward:read"], [tenant]);
    expect((await adminFetch(`/tenants/${tenant}/tasks/${decodeClaims(echo.handle).jti}/audit`, {}, reader)).status).toBe(403);
  });
});
