import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { generateSigningJwks, loadKeyRing, mintHandle } from "../../src/handle/index.js";
import { ALICE, McpSession, adminFetch, decodeClaims, forwardedFor, originReceived, originTaskIdOf, type Identity } from "../support/mcp-client.js";

/** Every refusal must look exactly like an unknown task: JSON-RPC -32602 "Task not found". */
function expectTaskNotFound(reply: { status: number; reply: Record<string, any> | undefined }) {
  expect(reply.status).toBe(200);
  expect(reply.reply?.error).toEqual({ code: -32602, message: "Task not found" });
}

async function originSawHandle(handle: string): Promise<number> {
  return (await originReceived()).filter((m) => forwardedFor(m, handle)).length;
}

async function ownedTask(identity: Identity = ALICE) {
  const owner = await McpSession.open(identity);
  const { handle } = await owner.createTask("slow_echo", { text: "secret", delayMs: 20 });
  return { owner, handle };
}

describe("binding: a handle works only for the principal that created it", () => {
  const others: Array<[string, Identity]> = [
    ["another tenant", { ...ALICE, tenant: "globex" }],
    ["another client", { ...ALICE, client_id: "cli-b" }],
    ["another subject", { ...ALICE, sub: "mallory" }],
    ["everything different", { tenant: "initech", client_id: "x", sub: "y" }],
  ];
  for (const [label, identity] of others) {
    it(`refuses ${label} for get, result and cancel, and forwards nothing`, async () => {
      const { handle } = await ownedTask();
      const intruder = await McpSession.open(identity);
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        expectTaskNotFound(await intruder.request(method, { taskId: handle }));
      }
      expect(await originSawHandle(handle)).toBe(0);
    });
  }

  it("answers a refused handle exactly like a random string", async () => {
    const { handle } = await ownedTask();
    const intruder = await McpSession.open({ ...ALICE, sub: "eve" });
    const refused = await intruder.request("tasks/get", { taskId: handle });
    const unknown = await intruder.request("tasks/get", { taskId: "no-such-task" });
    expect(refused.reply?.error).toEqual(unknown.reply?.error);
    expect(refused.status).toBe(unknown.status);
  });

  it("records the real reason of each refusal in the owner's audit trail", async () => {
    const tenant = "audit-binding";
    const { handle } = await ownedTask({ tenant, client_id: "c", sub: "owner" });
    const intruder = await McpSession.open({ tenant, client_id: "c", sub: "intruder" });
    await intruder.request("tasks/get", { taskId: handle });
    const audit = await (await adminFetch(`/tenants/${tenant}/audit`)).text();
    const events = audit.trim().split("\n").map((line) => JSON.parse(line));
    const denial = events.find((e) => e.type === "denied" && e.jti === decodeClaims(handle).jti);
    expect(denial).toMatchObject({ reason: "subject_mismatch", subject: "intruder", op: "get" });
  });
});

describe("handle integrity", () => {
  // Tampered payloads, expired handles and never-issued jtis: test/adversarial/hostile-handles.test.ts
  // ("integrity and shape", "time claims", "claims re-signed with the deployment key …") checks each with its audited reason.
  it("refuses a handle signed by another deployment's key", async () => {
    const { owner, handle } = await ownedTask();
    const foreign = await loadKeyRing(await generateSigningJwks("EdDSA"));
    const claims = decodeClaims(handle);
    const { token } = await mintHandle(claims as never, { keyRing: foreign, issuer: claims.iss, audience: claims.aud });
    expectTaskNotFound(await owner.request("tasks/get", { taskId: token }));
    // Same kid as ours but another key: still refused.
    const ours = await loadKeyRing(inject("signingJwks"));
    const spoofedKid = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: ours.activeKid, typ: "mcp-task-handle+jwt" }).sign(foreign.signing.key);
    expectTaskNotFound(await owner.request("tasks/get", { taskId: spoofedKid }));
    expect(await originSawHandle(token)).toBe(0);
    expect(await originSawHandle(spoofedKid)).toBe(0);
  });

  it("refuses an operation the handle does not allow, and audits why", async () => {
    const tenant = "ops-co";
    const { owner, handle } = await ownedTask({ tenant, client_id: "c", sub: "u" });
    // A 2025-11-25 handle allows get/result/cancel; tasks/update is an extension-only operation.
    expectTaskNotFound(await owner.request("tasks/update", { taskId: handle, inputResponses: {} }));
    expect(await originSawHandle(handle)).toBe(0);
    const audit = (await (await adminFetch(`/tenants/${tenant}/audit`)).text()).trim().split("\n").map((l) => JSON.parse(l));
    const mine = audit.filter((e: { jti?: string }) => e.jti === decodeClaims(handle).jti);
    expect(mine.map((e: Record<string, unknown>) => [e.type, e.op, e.reason])).toEqual([["issued", null, null], ["denied", "update", "operation_not_allowed"]]);
  });
});

describe("admin revocation", () => {
  it("revokes one handle by jti: the very next call is refused and not forwarded", async () => {
    const { owner, handle } = await ownedTask();
    const before = await owner.request("tasks/get", { taskId: handle });
    expect(before.reply?.result.taskId).toBe(handle);
    const { jti, tenant } = decodeClaims(handle);
    const revoke = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, jti, reason: "leaked" }) });
    expect(revoke.status).toBe(200);
    expect(await revoke.json()).toMatchObject({ revoked: 1 });
    const seenBefore = await originSawHandle(handle);
    expectTaskNotFound(await owner.request("tasks/get", { taskId: handle }));
    expectTaskNotFound(await owner.request("tasks/result", { taskId: handle }));
    expect(await originSawHandle(handle)).toBe(seenBefore);
    const record = await (await adminFetch(`/tenants/${tenant}/tasks/${jti}`)).json();
    expect(record).toMatchObject({ jti, revokeReason: "leaked" });
    expect(await (await adminFetch(`/tasks/${jti}?tenant=${tenant}`)).json()).toEqual(record);
    const noTenant = await adminFetch(`/tasks/${jti}`);
    expect(noTenant.status).toBe(400);
    expect(((await noTenant.json()) as { message: string }).message).toContain("?tenant=");
  });

  it("revokes by origin task and by handle", async () => {
    const { owner, handle } = await ownedTask();
    const { tenant } = decodeClaims(handle);
    const task = await originTaskIdOf(handle);
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant, task }) })).status).toBe(200);
    expectTaskNotFound(await owner.request("tasks/get", { taskId: handle }));

    const second = await owner.createTask("slow_echo", { text: "x" });
    expect((await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ handle: second.handle }) })).status).toBe(200);
    expectTaskNotFound(await owner.request("tasks/get", { taskId: second.handle }));
  });

  it("refuses callers without the admin credential and explains bad bodies", async () => {
    expect((await adminFetch("/revocations", { method: "POST", body: "{}" }, "wrong")).status).toBe(401);
    expect((await adminFetch("/revocations", { method: "POST", body: "{}" }, "")).status).toBe(401);
    const bad = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant: "acme" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain("expected {tenant, jti}");
    const unknown = await adminFetch("/revocations", { method: "POST", body: JSON.stringify({ tenant: "acme", jti: "nope" }) });
    expect(unknown.status).toBe(404);
  });
});
