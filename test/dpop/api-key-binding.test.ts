/** API keys bound to a DPoP key (`jkt`): every use needs a proof by that key, and its handles are key-bound. */
import { describe, expect, it } from "vitest";
import { adminFetch, decodeClaims, expectNothingForwarded, mcpHeaders, originMark, rawPost, tag } from "../adversarial/support.js";
import { DPOP_CHALLENGE, DpopSession, makeProof, newDpopKey } from "./support.js";

const TENANT = "dpop-keys";

async function boundApiKey(jkt: string): Promise<{ key: string; id: string; jkt: string | null }> {
  const created = await adminFetch(`/tenants/${TENANT}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: tag("m2m"), sub: tag("svc"), jkt }) });
  expect(created.status).toBe(201);
  return (await created.json()) as { key: string; id: string; jkt: string | null };
}

async function toolsList(authorization: string, proof?: string) {
  const sessionTag = tag("sess");
  const id = tag("rq");
  const headers = mcpHeaders(undefined, sessionTag, { authorization, ...(proof ? { dpop: proof } : {}) });
  const mark = await originMark();
  return { reply: await rawPost(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params: {} }), headers), mark, needles: [sessionTag, id] };
}

describe("API keys bound to a DPoP key", () => {
  it("records the binding and refuses the key without a proof, as Bearer, or with another key's proof", async () => {
    const dpopKey = await newDpopKey("EdDSA");
    const created = await boundApiKey(dpopKey.jkt);
    expect(created.jkt).toBe(dpopKey.jkt);
    const attempts: Array<[string, string | undefined]> = [
      [`DPoP ${created.key}`, undefined],
      [`Bearer ${created.key}`, undefined],
      [`Bearer ${created.key}`, await makeProof(dpopKey, { accessToken: created.key })],
      [`DPoP ${created.key}`, await makeProof(await newDpopKey(), { accessToken: created.key })],
    ];
    for (const [authorization, proof] of attempts) {
      const { reply, mark, needles } = await toolsList(authorization, proof);
      expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status: 401, code: -32001 });
      expect(reply.headers.get("www-authenticate")).toContain(DPOP_CHALLENGE);
      await expectNothingForwarded(mark, needles);
    }
  });

  it("works with a proof by its key, and its handles are bound to that key", async () => {
    const dpopKey = await newDpopKey();
    const created = await boundApiKey(dpopKey.jkt);
    const session = await DpopSession.open({ tenant: TENANT, client_id: "unused", sub: "unused" }, dpopKey, created.key);
    const handle = await session.createTask();
    expect(decodeClaims(handle).cnf).toEqual({ jkt: dpopKey.jkt });
    expect((await session.request("tasks/get", { taskId: handle })).reply?.result?.taskId).toBe(handle);
  });

  it("refuses a jkt that is not a SHA-256 thumbprint", async () => {
    const bad = await adminFetch(`/tenants/${TENANT}/api-keys`, { method: "POST", body: JSON.stringify({ client_id: "m2m", sub: "svc", jkt: "not-a-thumbprint" }) });
    expect(bad.status).toBe(400);
  });
});
