/**
 * Opening a sealed Mcp-Session-Id once per isolate (issue 14): a cached opening still refuses
 * another principal and a value that was never sealed, exactly like an uncached one, and audits it.
 */
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { WorkerEnv } from "../../src/config.js";
import { Refusal } from "../../src/errors.js";
import { openClientSession } from "../../src/gateway/session.js";
import { loadKeyRing } from "../../src/handle/keyring.js";
import { seal } from "../../src/handle/seal.js";
import { ledgerFor } from "../../src/ledger/ledger-client.js";

const workerEnv = env as unknown as WorkerEnv;

function principal(tenant: string, subject: string) {
  return { tenant, clientId: "cache-client", subject, authTime: 0, scopes: [], via: "dev" as const };
}

async function refusalOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Refusal) return `${error.code}: ${error.detail}`;
    throw error;
  }
  return "opened";
}

describe("a sealed session opened once per isolate", () => {
  it("answers the same on every open, and still refuses another principal after its owner's opening was cached", async () => {
    const ring = await loadKeyRing(inject("signingJwks"));
    const tenant = `cache-${crypto.randomUUID().slice(0, 8)}`;
    const owner = principal(tenant, "owner");
    const sealed = await seal("session", { sid: "origin-session-1", v: "2025-11-25", t: tenant, c: owner.clientId, s: owner.subject }, ring);

    const first = await openClientSession(sealed, owner, ring, workerEnv);
    const second = await openClientSession(sealed, owner, ring, workerEnv);
    expect(second).toEqual(first);
    expect(first).toMatchObject({ originSessionId: "origin-session-1", revision: "2025-11-25", sealed });
    expect(first!.key).toMatch(/^[0-9a-f]{64}$/);

    expect(await refusalOf(openClientSession(sealed, principal(tenant, "stranger"), ring, workerEnv))).toBe("session_not_found: session opened by another principal");
    const tampered = `${sealed.slice(0, -2)}${sealed.endsWith("AA") ? "BB" : "AA"}`;
    expect(await refusalOf(openClientSession(tampered, owner, ring, workerEnv))).toBe("session_not_found: session id not sealed by this authority");
    // The refusals are audited in the caller's ledger under their real reasons.
    const { events } = await ledgerFor(workerEnv.TASK_LEDGER, tenant).auditEvents(tenant, 0, 100);
    expect(events.filter((e) => e.type === "denied").map((e) => e.reason)).toEqual(["session_mismatch", "session_invalid"]);
  });

  it("starts from nothing for another key ring: a value sealed under a ring that is gone is refused", async () => {
    const ring = await loadKeyRing(inject("signingJwks"));
    const tenant = `cache-${crypto.randomUUID().slice(0, 8)}`;
    const owner = principal(tenant, "owner");
    const sealed = await seal("session", { sid: "origin-session-2", v: "2025-11-25", t: tenant, c: owner.clientId, s: owner.subject }, ring);
    expect(await openClientSession(sealed, owner, ring, workerEnv)).toMatchObject({ originSessionId: "origin-session-2" });
    const { generateSigningJwks } = await import("../../src/handle/keyring.js");
    const replaced = await loadKeyRing(await generateSigningJwks("EdDSA"));
    expect(await refusalOf(openClientSession(sealed, owner, replaced, workerEnv))).toBe("session_not_found: session id not sealed by this authority");
  });
});
