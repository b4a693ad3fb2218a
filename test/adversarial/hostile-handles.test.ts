/**
 * Hostile task handles: every forged, mangled, misbound, revoked or misused handle is refused
 * exactly like an unknown task (HTTP 200, JSON-RPC -32602 "Task not found") and the origin sees
 * nothing of the request.
 *
 * Most variants are built from a real handle of the caller's own live task and re-signed with the
 * deployment's own key (`resign`), changing one thing only, so each refusal is caused by that
 * change (the control case proves an unchanged re-signed handle is byte-identical and accepted).
 */
import { describe, expect, it } from "vitest";
import {
  McpSession,
  NOT_FOUND,
  TASKS_EXT,
  adminFetch,
  b64url,
  decodeClaims,
  decodeHeader,
  forwardedFor,
  originTaskIdOf,
  expectAuditedDenial,
  expectFollowUpRefused,
  expectNothingForwarded,
  expectRpcRefusal,
  foreignEs256,
  foreignKeyRing,
  freshIdentity,
  fromB64url,
  mcpHeaders,
  modernMeta,
  originMark,
  originReceived,
  ownedTask,
  rawPost,
  resign,
  signHs256,
  tag,
  testKeyRing,
  unsigned,
  type OwnedTask,
} from "./support.js";

const TENANT = "adv-handles";
const OTHER_TENANT = "adv-handles-other";

/**
 * The owner presents a forged variant of its own handle: refused as "Task not found", nothing
 * forwarded, and the audit trail names the real reason (`ERR_HANDLE_*` = the handle failed
 * verification; otherwise the ledger's denial reason).
 */
async function refusedForOwner(task: OwnedTask, forged: string, expected: string, method = "tasks/get"): Promise<void> {
  await expectFollowUpRefused(task.session, method, forged, [task.handle, task.originTaskId]);
  const [reason, code] = expected.startsWith("ERR_") ? ["handle_invalid", expected] : [expected, undefined];
  await expectAuditedDenial(TENANT, task.identity.sub, reason, code);
}

/** Flips one base64url character in the middle of a segment (never the last, whose low bits may be ignored). */
function flipMiddle(segment: string): string {
  const i = Math.floor(segment.length / 2);
  const replacement = segment[i] === "A" ? "B" : "A";
  return segment.slice(0, i) + replacement + segment.slice(i + 1);
}

async function modernPost(token: string, method: string, params: Record<string, unknown>, options: { declareTasks?: boolean; headers?: Record<string, string> } = {}) {
  const id = tag("rq");
  const sessionTag = tag("sess");
  const headers = mcpHeaders(token, sessionTag, { "mcp-method": method, ...options.headers }, "2026-07-28");
  const reply = await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: modernMeta(options.declareTasks ?? true) } }), headers);
  return { reply, id, sessionTag };
}

describe("control", () => {
  it("control: a handle re-signed unchanged by the test helper is byte-identical and accepted", async () => {
    const task = await ownedTask(TENANT);
    const same = await resign(task.handle);
    expect(same).toBe(task.handle);
    const mark = await originMark();
    const reply = await task.session.request("tasks/get", { taskId: same });
    expect(reply.reply?.result.taskId).toBe(task.handle);
    const forwarded = (await originReceived()).slice(mark).filter((m) => forwardedFor(m, task.handle));
    expect(forwarded.map((m) => [m.method, m.taskId])).toEqual([["tasks/get", task.originTaskId]]);
  });
});

describe("algorithm and key selection are never taken from the handle", () => {
  it("refuses alg none with an empty signature", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, unsigned({ ...decodeHeader(task.handle), alg: "none" }, task.claims), "ERR_HANDLE_MALFORMED");
  });

  it("refuses alg none carrying the original signature", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, unsigned({ ...decodeHeader(task.handle), alg: "none" }, task.claims, task.handle.split(".")[2]), "ERR_HANDLE_ALG_NOT_ALLOWED");
  });

  it("refuses alg 'None' (case variant) without a signature", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, unsigned({ alg: "None", typ: "mcp-task-handle+jwt" }, task.claims, "e30"), "ERR_HANDLE_ALG_NOT_ALLOWED");
  });

  it("refuses HS256 keyed with the raw public key bytes", async () => {
    const task = await ownedTask(TENANT);
    const ring = await testKeyRing();
    const publicJwk = ring.publicJwks.keys[0]!;
    await refusedForOwner(task, await signHs256({ ...decodeHeader(task.handle), alg: "HS256" }, task.claims, fromB64url(publicJwk.x!)), "ERR_HANDLE_ALG_NOT_ALLOWED");
  });

  it("refuses HS256 keyed with the published public JWK JSON", async () => {
    const task = await ownedTask(TENANT);
    const ring = await testKeyRing();
    const secret = new TextEncoder().encode(JSON.stringify(ring.publicJwks.keys[0]));
    await refusedForOwner(task, await signHs256({ ...decodeHeader(task.handle), alg: "HS256" }, task.claims, secret), "ERR_HANDLE_ALG_NOT_ALLOWED");
  });

  it("refuses an ES256 header on the Ed25519 kid (alg/key confusion, foreign P-256 key)", async () => {
    const task = await ownedTask(TENANT);
    const { privateKey } = await foreignEs256();
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, alg: "ES256" }) }, privateKey), "ERR_HANDLE_ALG_NOT_ALLOWED");
  });

  it("refuses an unknown kid even with a valid signature", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, kid: "no-such-kid" }) }), "ERR_HANDLE_KID_UNKNOWN");
  });

  it("refuses a missing kid", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: ({ kid: _kid, ...h }) => h }), "ERR_HANDLE_KID_MISSING");
  });

  it("refuses an empty kid", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, kid: "" }) }), "ERR_HANDLE_KID_MISSING");
  });

  it("refuses a jku header (remote key set injection)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, jku: "https://evil.example/jwks.json" }) }), "ERR_HANDLE_HEADER_NOT_ALLOWED");
  });

  it("refuses an x5u header", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, x5u: "https://evil.example/cert.pem" }) }), "ERR_HANDLE_HEADER_NOT_ALLOWED");
  });

  it("refuses a jwk header embedding an attacker key", async () => {
    const task = await ownedTask(TENANT);
    const { publicJwk } = await foreignEs256();
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, jwk: publicJwk }) }), "ERR_HANDLE_HEADER_NOT_ALLOWED");
  });

  it("refuses an x5c header", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, x5c: ["MIIBszCCAVmgAwIBAgIUEvil"] }) }), "ERR_HANDLE_HEADER_NOT_ALLOWED");
  });

  it("refuses a handle from another deployment's key and kid", async () => {
    const task = await ownedTask(TENANT);
    const foreign = await foreignKeyRing();
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, kid: foreign.activeKid }) }, foreign.signing.key), "ERR_HANDLE_KID_UNKNOWN");
  });

  it("refuses a handle from another deployment's key presented under our kid", async () => {
    const task = await ownedTask(TENANT);
    const foreign = await foreignKeyRing();
    await refusedForOwner(task, await resign(task.handle, {}, foreign.signing.key), "ERR_HANDLE_SIGNATURE");
  });
});

describe("typ and crit", () => {
  it("refuses typ at+jwt (an access token's type)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, typ: "at+jwt" }) }), "ERR_HANDLE_TYP");
  });

  it("refuses a missing typ", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: ({ typ: _typ, ...h }) => h }), "ERR_HANDLE_TYP");
  });

  it("refuses typ JWT", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, typ: "JWT" }) }), "ERR_HANDLE_TYP");
  });

  it("refuses a crit header naming an unknown extension", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, crit: ["urn:evil:ext"], "urn:evil:ext": true }) }), "ERR_HANDLE_MALFORMED");
  });

  it("refuses crit b64:false (unencoded payload)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { header: (h) => ({ ...h, crit: ["b64"], b64: false }) }), "ERR_HANDLE_MALFORMED");
  });
});

describe("time claims", () => {
  it("refuses an expired handle (exp a minute ago)", async () => {
    const task = await ownedTask(TENANT);
    const now = Math.floor(Date.now() / 1000);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, iat: now - 120, exp: now - 60 }) }), "ERR_HANDLE_EXPIRED");
  });

  it("refuses a handle without exp", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: ({ exp: _exp, ...c }) => c }), "ERR_HANDLE_CLAIM");
  });

  it("refuses a string exp", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, exp: String(c.exp) }) }), "ERR_HANDLE_CLAIM");
  });

  it("refuses a not-yet-valid handle (nbf in the future)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, nbf: Math.floor(Date.now() / 1000) + 600 }) }), "ERR_HANDLE_NOT_YET_VALID");
  });

  it("refuses a far-future iat", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, iat: Math.floor(Date.now() / 1000) + 10 * 365 * 86_400 }) }), "ERR_HANDLE_CLAIM");
  });
});

describe("issuer and audience", () => {
  it("refuses a wrong iss", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, iss: "https://evil.example" }) }), "ERR_HANDLE_CLAIM");
  });

  it("refuses a wrong aud", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, aud: "https://other-origin.example/mcp" }) }), "ERR_HANDLE_CLAIM");
  });

  it("refuses an aud array that includes the origin among others", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, aud: [c.aud, "https://other-origin.example/mcp"] }) }), "ERR_HANDLE_CLAIM");
  });

  it("refuses the authority's own resource as aud (an access-token audience)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, aud: "https://taskward.test/mcp" }) }), "ERR_HANDLE_CLAIM");
  });
});

describe("binding: tenant, client and subject, alone and combined", () => {
  type Id = { tenant: string; client_id: string; sub: string };
  const combos: Array<[string, (id: Id) => Id, string]> = [
    ["tenant", (id) => ({ ...id, tenant: OTHER_TENANT }), "tenant_mismatch"],
    ["client", (id) => ({ ...id, client_id: tag("cli") }), "client_mismatch"],
    ["subject", (id) => ({ ...id, sub: tag("sub") }), "subject_mismatch"],
    ["tenant and client", (id) => ({ ...id, tenant: OTHER_TENANT, client_id: tag("cli") }), "tenant_mismatch"],
    ["tenant and subject", (id) => ({ ...id, tenant: OTHER_TENANT, sub: tag("sub") }), "tenant_mismatch"],
    ["client and subject", (id) => ({ ...id, client_id: tag("cli"), sub: tag("sub") }), "client_mismatch"],
    ["tenant, client and subject", () => freshIdentity(OTHER_TENANT), "tenant_mismatch"],
  ];
  for (const [label, intruderOf, reason] of combos) {
    it(`refuses a caller differing in ${label} for get, result and cancel`, async () => {
      const task = await ownedTask(TENANT);
      const intruderIdentity = intruderOf(task.identity);
      const intruder = await McpSession.open(intruderIdentity);
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        await expectFollowUpRefused(intruder, method, task.handle, [task.originTaskId]);
      }
      // Decided and audited by the owner's ledger, against the intruder.
      await expectAuditedDenial(TENANT, intruderIdentity.sub, reason);
    });
  }
});

describe("claims re-signed with the deployment key are still checked against the ledger", () => {
  it("refuses a handle whose tenant claim was moved to the caller's tenant", async () => {
    const task = await ownedTask(TENANT);
    const intruderIdentity = freshIdentity(OTHER_TENANT);
    const intruder = await McpSession.open(intruderIdentity);
    const forged = await resign(task.handle, { claims: (c) => ({ ...c, tenant: intruderIdentity.tenant, client_id: intruderIdentity.client_id, sub: intruderIdentity.sub }) });
    await expectFollowUpRefused(intruder, "tasks/get", forged, [task.handle, task.originTaskId]);
    await expectAuditedDenial(OTHER_TENANT, intruderIdentity.sub, "unknown_handle");
  });

  it("refuses a handle whose sub and client_id were rewritten to the intruder", async () => {
    const task = await ownedTask(TENANT);
    const intruderIdentity = freshIdentity(TENANT);
    const intruder = await McpSession.open(intruderIdentity);
    const forged = await resign(task.handle, { claims: (c) => ({ ...c, client_id: intruderIdentity.client_id, sub: intruderIdentity.sub }) });
    await expectFollowUpRefused(intruder, "tasks/get", forged, [task.handle, task.originTaskId]);
    await expectAuditedDenial(TENANT, intruderIdentity.sub, "client_mismatch");
  });

  it("refuses a handle whose task claim points at another origin task", async () => {
    const task = await ownedTask(TENANT);
    const { handle: other } = await task.session.createTask("slow_echo", { text: "other", delayMs: 20 });
    const otherTask = await originTaskIdOf(other);
    await expectFollowUpRefused(task.session, "tasks/get", await resign(task.handle, { claims: (c) => ({ ...c, task: otherTask }) }), [task.handle, task.originTaskId, otherTask]);
    // "The audit trail records the real reason" of every refusal: the newest event about this
    // handle must be a denial, not an allowance for a call that was never forwarded.
    const events = new TextDecoder()
      .decode(await (await adminFetch(`/tenants/${TENANT}/audit?limit=10000`)).arrayBuffer())
      .split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
    expect(events.filter((e) => e.jti === task.claims.jti).at(-1)).toMatchObject({ type: "denied", op: "get", subject: task.identity.sub });
  });

  it("refuses a get-only handle whose ops claim was widened, for tasks/result", async () => {
    const task = await ownedTask(TENANT, "always_fails", {});
    expect(task.claims.ops).toEqual(["get"]);
    const forged = await resign(task.handle, { claims: (c) => ({ ...c, ops: ["get", "result", "cancel", "update"] }) });
    await refusedForOwner(task, forged, "operation_not_allowed", "tasks/result");
  });

  it("refuses a correctly signed handle with a jti the ledger never issued", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, await resign(task.handle, { claims: (c) => ({ ...c, jti: b64url(crypto.getRandomValues(new Uint8Array(16))) }) }), "unknown_handle");
  });
});

describe("integrity and shape", () => {
  it("refuses a payload tampered without re-signing (sub changed)", async () => {
    const task = await ownedTask(TENANT);
    const [h, , s] = task.handle.split(".");
    await refusedForOwner(task, `${h}.${b64url(JSON.stringify({ ...task.claims, sub: "root" }))}.${s}`, "ERR_HANDLE_SIGNATURE");
  });

  it("refuses another handle's payload under this signature", async () => {
    const task = await ownedTask(TENANT);
    const { handle: other } = await task.session.createTask("slow_echo", { text: "other", delayMs: 20 });
    const [h, , s] = task.handle.split(".");
    await refusedForOwner(task, `${h}.${other.split(".")[1]}.${s}`, "ERR_HANDLE_SIGNATURE");
  });

  it("refuses a signature with one character flipped", async () => {
    const task = await ownedTask(TENANT);
    const [h, p, s] = task.handle.split(".");
    await refusedForOwner(task, `${h}.${p}.${flipMiddle(s!)}`, "ERR_HANDLE_SIGNATURE");
  });

  it("refuses a handle with its signature stripped (h.p.)", async () => {
    const task = await ownedTask(TENANT);
    const [h, p] = task.handle.split(".");
    await refusedForOwner(task, `${h}.${p}.`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses a handle truncated by ten characters", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, task.handle.slice(0, -10), "ERR_HANDLE_SIGNATURE");
  });

  it("refuses header.payload without a signature segment", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, task.handle.split(".").slice(0, 2).join("."), "ERR_HANDLE_MALFORMED");
  });

  it("refuses a handle padded with '='", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, `${task.handle}==`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses a handle with a trailing space", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, `${task.handle} `, "ERR_HANDLE_MALFORMED");
  });

  it("refuses a handle wrapped in newlines and tabs", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, `\n\t${task.handle}\r\n`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses a doubled handle (h.p.s.h.p.s)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, `${task.handle}.${task.handle}`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses two handles joined by a comma (the origin's multi-handle header separator)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, `${task.handle},${task.handle}`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses a unicode-confusable letter (Cyrillic а for Latin a)", async () => {
    const task = await ownedTask(TENANT);
    const [h, p, s] = task.handle.split(".");
    const index = p!.search(/[a-z]/);
    expect(index).toBeGreaterThanOrEqual(0);
    const confusable = p!.slice(0, index) + String.fromCodePoint(0x0430 + (p!.charCodeAt(index) - 0x61)) + p!.slice(index + 1);
    await refusedForOwner(task, `${h}.${confusable}.${s}`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses fullwidth full stops (U+FF0E) as separators", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, task.handle.split(".").join("\uFF0E"), "ERR_HANDLE_MALFORMED");
  });

  it("refuses a zero-width space inside the handle", async () => {
    const task = await ownedTask(TENANT);
    const [h, p, s] = task.handle.split(".");
    await refusedForOwner(task, `${h}.${p!.slice(0, 10)}\u200B${p!.slice(10)}.${s}`, "ERR_HANDLE_MALFORMED");
  });

  it("refuses the standard base64 alphabet (+ and /) in place of base64url", async () => {
    const task = await ownedTask(TENANT);
    const forged = await resign(task.handle, { claims: (c) => ({ ...c, pad: "\u00ff\u00fe\u00fd\u00fb" }) });
    // The re-signed token necessarily contains - or _ in some segment once mapped; make sure it does.
    const mapped = forged.replace(/-/g, "+").replace(/_/g, "/");
    expect(mapped).not.toBe(forged);
    await refusedForOwner(task, mapped, "ERR_HANDLE_MALFORMED");
  });

  it("refuses an oversized (> 4096 chars) handle even when correctly signed", async () => {
    const task = await ownedTask(TENANT);
    const forged = await resign(task.handle, { claims: (c) => ({ ...c, pad: "x".repeat(4000) }) });
    expect(forged.length).toBeGreaterThan(4096);
    await refusedForOwner(task, forged, "ERR_HANDLE_TOO_LONG");
  });

  it("refuses an oversized garbage taskId (20 000 characters)", async () => {
    const task = await ownedTask(TENANT);
    await refusedForOwner(task, "A".repeat(20_000), "ERR_HANDLE_TOO_LONG");
  });
});

describe("operations the handle does not allow", () => {
  it("refuses tasks/result with a get-only handle (policy: always_fails)", async () => {
    const task = await ownedTask(TENANT, "always_fails", {});
    expect(task.claims.ops).toEqual(["get"]);
    await refusedForOwner(task, task.handle, "operation_not_allowed", "tasks/result");
  });

  it("refuses tasks/cancel with a get-only handle (policy: always_fails)", async () => {
    const task = await ownedTask(TENANT, "always_fails", {});
    await refusedForOwner(task, task.handle, "operation_not_allowed", "tasks/cancel");
  });
});

describe("revoked handles", () => {
  it("refuses a handle after admin revocation by jti", async () => {
    const task = await ownedTask(TENANT);
    const revoke = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant: TENANT, jti: task.claims.jti, reason: "adversarial" }) });
    expect(revoke.status).toBe(200);
    await refusedForOwner(task, task.handle, "revoked");
  });

  it("refuses a handle after its subject was revoked (watermark)", async () => {
    const task = await ownedTask(TENANT);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant: TENANT, sub: task.identity.sub }) })).status).toBe(200);
    await refusedForOwner(task, task.handle, "revoked_by_watermark", "tasks/cancel");
  });

  it("refuses a handle after its holder revoked it (RFC 7009)", async () => {
    const task = await ownedTask(TENANT);
    const revoked = await rawPost(`token=${encodeURIComponent(task.handle)}`, { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${task.session.token}` }, "/revoke");
    expect(revoked.status).toBe(200);
    await refusedForOwner(task, task.handle, "revoked");
  });

  it("refuses a handle after terminal auto-revocation (result delivered, 2 s grace)", async () => {
    const task = await ownedTask(TENANT, "slow_echo", { text: "done", delayMs: 1 });
    await task.session.waitForStatus(task.handle, ["completed"]);
    expect((await task.session.request("tasks/result", { taskId: task.handle })).reply?.result.content[0].text).toContain("done");
    await expect
      .poll(async () => ((await (await adminFetch(`/tenants/${TENANT}/tasks/${task.claims.jti}`)).json()) as { deliveredAt: number | null }).deliveredAt, { timeout: 3000 })
      .toBeTypeOf("number");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await refusedForOwner(task, task.handle, "revoked_after_delivery");
  });

  it("refuses a delegated handle after its parent's revocation", async () => {
    const task = await ownedTask(TENANT);
    const delegateIdentity = { tenant: TENANT, client_id: tag("ops"), sub: tag("oncall") };
    const delegated = await adminFetch("/delegations", {
      method: "POST",
      body: JSON.stringify({ handle: task.handle, to: { client_id: delegateIdentity.client_id, sub: delegateIdentity.sub }, ops: ["get"], ttl_seconds: 30 }),
    });
    expect(delegated.status).toBe(201);
    const { handle: child } = (await delegated.json()) as { handle: string };
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: task.handle }) })).status).toBe(200);
    const delegate = await McpSession.open(delegateIdentity);
    await expectFollowUpRefused(delegate, "tasks/get", child, [task.handle, task.originTaskId]);
    await expectAuditedDenial(TENANT, delegateIdentity.sub, "parent_revoked");
  });

  it("refuses a read-only delegated handle for tasks/cancel", async () => {
    const task = await ownedTask(TENANT);
    const delegateIdentity = { tenant: TENANT, client_id: tag("ops"), sub: tag("oncall") };
    const delegated = await adminFetch("/delegations", {
      method: "POST",
      body: JSON.stringify({ handle: task.handle, to: { client_id: delegateIdentity.client_id, sub: delegateIdentity.sub }, ops: ["get"] }),
    });
    const { handle: child } = (await delegated.json()) as { handle: string };
    const delegate = await McpSession.open(delegateIdentity);
    await expectFollowUpRefused(delegate, "tasks/cancel", child, [task.handle, task.originTaskId]);
    await expectAuditedDenial(TENANT, delegateIdentity.sub, "operation_not_allowed");
  });
});

describe("protocol revision", () => {
  it("refuses a 2025-11-25 handle for tasks/update under 2026-07-28 (extension declared)", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const { reply, id, sessionTag } = await modernPost(task.session.token, "tasks/update", { taskId: task.handle, inputResponses: {} }, { headers: { "mcp-name": task.handle } });
    expectRpcRefusal(reply, 200, NOT_FOUND.code, NOT_FOUND.message, id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
    await expectAuditedDenial(TENANT, task.identity.sub, "operation_not_allowed");
  });

  it("refuses a 2025-11-25 handle for tasks/update under 2026-07-28 without the extension declared", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const { reply, id, sessionTag } = await modernPost(task.session.token, "tasks/update", { taskId: task.handle, inputResponses: {} }, { declareTasks: false });
    // Without the extension every refused id gets the capability error, forged or not (issue 11: no validity oracle).
    expectRpcRefusal(reply, 400, -32021, "Missing required client capability", id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
    await expectAuditedDenial(TENANT, task.identity.sub, "operation_not_allowed");
  });

  it("answers tasks/result under 2026-07-28 with 404 / -32601, even for a valid handle", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const { reply, id, sessionTag } = await modernPost(task.session.token, "tasks/result", { taskId: task.handle });
    expectRpcRefusal(reply, 404, -32601, "Method not found: tasks/result is not part of the 2026-07-28 tasks extension", id);
    await expectNothingForwarded(mark, [id, sessionTag, task.handle, task.originTaskId]);
  });

  it("answers tasks/list under 2026-07-28 with 404 / -32601", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const { reply, id, sessionTag } = await modernPost(task.session.token, "tasks/list", {});
    expectRpcRefusal(reply, 404, -32601, "Method not found: tasks/list is not part of the 2026-07-28 tasks extension", id);
    await expectNothingForwarded(mark, [id, sessionTag]);
  });

  it("answers an unknown task id under 2026-07-28 without the extension with 400 / -32021", async () => {
    const task = await ownedTask(TENANT);
    const mark = await originMark();
    const { reply, id, sessionTag } = await modernPost(task.session.token, "tasks/get", { taskId: "not-a-handle" }, { declareTasks: false, headers: { "mcp-name": "not-a-handle" } });
    expectRpcRefusal(reply, 400, -32021, "Missing required client capability", id);
    expect(reply.body.error.data).toEqual({ requiredCapabilities: { extensions: { [TASKS_EXT]: {} } } });
    await expectNothingForwarded(mark, [id, sessionTag, "not-a-handle"]);
  });
});
