/**
 * Issue 11, findings 1, 2, 3 and 6: what one hostile principal can make taskward spend — audit
 * rows, another principal's refusal budget, creation slots — and what probing handles reveals.
 */
import { describe, expect, it } from "vitest";
import { McpSession, adminFetch, devToken, modernMeta, rawPost, mcpHeaders, tag, freshIdentity, ownedTask, lastDenial, type Identity } from "../adversarial/support.js";

/** Every audit event of `tenant` (the export, all pages in one). */
async function auditOf(tenant: string): Promise<Array<Record<string, any>>> {
  const response = await adminFetch(`/tenants/${tenant}/audit?limit=10000`);
  expect(response.status).toBe(200);
  return (await response.text()).split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

async function rowsOf(tenant: string, who: Identity): Promise<Array<Record<string, any>>> {
  return (await auditOf(tenant)).filter((e) => e.client_id === who.client_id && e.subject === who.sub);
}

describe("finding 1: the audit trail stays bounded under abuse", () => {
  it("120 garbage tasks/get by one principal leave at most 4 audit rows (one span per reason and window), and every call is counted", async () => {
    const tenant = tag("t-garbage");
    const hostile = freshIdentity(tenant);
    const session = await McpSession.open(hostile);
    const statuses: number[] = [];
    for (let i = 0; i < 120; i++) statuses.push((await session.request("tasks/get", { taskId: `garbage-${i}` })).status);
    // 30 refusals per minute (vitest.config.ts): the 30th and later are 429.
    expect(statuses.filter((s) => s === 200)).toHaveLength(29);
    expect(statuses.filter((s) => s === 429)).toHaveLength(91);
    const rows = await rowsOf(tenant, hostile);
    expect(rows.length).toBeLessThanOrEqual(4);
    expect(rows.map((r) => r.reason).sort()).toEqual(["handle_invalid", "handle_invalid", "rate_limited", "rate_limited"].slice(0, rows.length).sort());
    // Folded, not dropped: the spans account for every one of the 120 refusals.
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(120);
    expect(((await (await adminFetch(`/tenants/${tenant}/audit/verify`)).json()) as any).valid).toBe(true);
  });

  it("a foreign tenant's caller polling a tenant's handle 60 times is recorded as spans in that tenant's chain, not 60 rows", async () => {
    const victim = await ownedTask(tag("t-victim"));
    const foreign = freshIdentity(tag("t-foreign"));
    const session = await McpSession.open(foreign);
    for (let i = 0; i < 60; i++) await session.request("tasks/get", { taskId: victim.handle });
    const rows = await rowsOf(victim.identity.tenant, foreign);
    expect(rows.length).toBeLessThanOrEqual(4);
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(60);
    expect(rows[0]).toMatchObject({ type: "denied", reason: "tenant_mismatch" });
  });
});

describe("finding 2: refusal budgets are per tenant", () => {
  it("a caller in another tenant with the owner's client_id and sub cannot exhaust the owner's budget", async () => {
    const owner = await ownedTask(tag("t-owner"));
    const twin: Identity = { tenant: tag("t-twin"), client_id: owner.identity.client_id, sub: owner.identity.sub };
    const twinSession = await McpSession.open(twin);
    for (let i = 0; i < 40; i++) await twinSession.request("tasks/get", { taskId: owner.handle });
    const own = await owner.session.request("tasks/get", { taskId: owner.handle });
    expect(own.status).toBe(200);
    expect(own.reply?.result?.taskId).toBe(owner.handle);
  });
});

describe("finding 3: creation slots are reserved before forwarding", () => {
  it("70 concurrent creations against a limit of 40 mint at most 40 handles", async () => {
    const identity = freshIdentity(tag("t-burst"));
    const session = await McpSession.open(identity);
    const replies = await Promise.all(
      Array.from({ length: 70 }, () => session.request("tools/call", { name: "slow_echo", arguments: { text: "burst", delayMs: 5 }, task: { ttl: 60_000 } })),
    );
    const minted = replies.filter((r) => typeof r.reply?.result?.task?.taskId === "string").length;
    const limited = replies.filter((r) => r.status === 429).length;
    expect(minted).toBeLessThanOrEqual(40);
    expect(minted + limited).toBe(70);
  });

  it("a creation that yields no task (a synchronous result) gives its slot back", async () => {
    const identity = freshIdentity(tag("t-release"));
    const token = await devToken(identity);
    // 2026-07-28: the extension is declared, the origin answers this tool synchronously.
    for (let i = 0; i < 45; i++) {
      const reply = await rawPost(
        JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "greet", arguments: { name: "x" }, _meta: modernMeta(true) } }),
        mcpHeaders(token, tag("s"), { "mcp-method": "tools/call", "mcp-name": "greet" }, "2026-07-28"),
      );
      expect(reply.status).toBe(200);
      expect(reply.body.result?.resultType).not.toBe("task");
    }
    const session = await McpSession.open(identity);
    const { handle } = await session.createTask("slow_echo", { text: "after", delayMs: 5 });
    expect(typeof handle).toBe("string");
  });
});

describe("finding 6: forged and foreign handles answer identically on every path, audited and rate-limited", () => {
  it("2026-07-28 without the extension: a forged handle and a valid foreign 2025 handle get the same answer", async () => {
    const victim = await ownedTask(tag("t-oracle"));
    const prober = freshIdentity(tag("t-prober"));
    const token = await devToken(prober);
    const ask = async (taskId: string) => {
      const reply = await rawPost(
        JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tasks/get", params: { taskId, _meta: modernMeta(false) } }),
        mcpHeaders(token, tag("s"), { "mcp-method": "tasks/get", "mcp-name": taskId }, "2026-07-28"),
      );
      return { status: reply.status, error: reply.body?.error };
    };
    const [h, p, s] = victim.handle.split(".");
    const forged = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    const foreign = await ask(victim.handle);
    expect(await ask(forged)).toEqual(foreign);
    expect(await ask("not-a-handle-at-all")).toEqual(foreign);
    // Audited in the victim's ledger with the real reason, and in the prober's own for the forged one.
    expect((await lastDenial(victim.identity.tenant, prober.sub))?.reason).toBe("tenant_mismatch");
    expect((await lastDenial(prober.tenant, prober.sub))?.reason).toBe("handle_invalid");
    // Rate-limited: probing at speed meets 429.
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await ask(forged)).status);
    expect(statuses).toContain(429);
  });
});
