/**
 * Issue 15: a DPoP proof is spent once per tenant, not once per ledger shard. Tenant `shard-dpop`
 * has 4 shards (vitest.config.ts); the caller's handles are spread over them.
 */
import { describe, expect, it } from "vitest";
import { decodeClaims, devToken, shardOf } from "../support/mcp-client.js";
import { DpopSession, makeProof, newDpopKey } from "./support.js";

describe("DPoP replay across ledger shards", () => {
  it("a proof spent on a follow-up in one shard is refused when replayed with a handle of another shard", async () => {
    const identity = { tenant: "shard-dpop", client_id: "c", sub: "prover" };
    const key = await newDpopKey();
    const token = await devToken(identity);
    const dpop = await DpopSession.open(identity, key, token);
    // Created without a proof (a bearer call on the same session): not key-bound, so spread over the shards.
    const handles: string[] = [];
    for (let i = 0; i < 8; i++) handles.push((await dpop.session.createTask("slow_echo", { text: `p${i}`, delayMs: 30_000 })).handle);
    expect(new Set(handles.map(shardOf)).size).toBe(4);

    for (const [first, second] of [[0, 1], [2, 3], [1, 0]] as const) {
      const a = handles.find((h) => shardOf(h) === first)!;
      const b = handles.find((h) => shardOf(h) === second)!;
      const proof = await makeProof(key, { accessToken: token });
      const used = await dpop.request("tasks/get", { taskId: a }, proof);
      expect(used.reply?.result?.taskId).toBe(a);
      const replayed = await dpop.request("tasks/get", { taskId: b }, proof);
      expect(replayed.status).toBe(401);
      expect(replayed.headers.get("www-authenticate")).toContain('error="invalid_dpop_proof"');
    }
  });

  it("a handle minted for a proving caller lives in its key's shard: its follow-ups cost one ledger call", async () => {
    const identity = { tenant: "shard-dpop", client_id: "c", sub: "bound" };
    const key = await newDpopKey();
    const dpop = await DpopSession.open(identity, key);
    const handles: string[] = [];
    for (let i = 0; i < 6; i++) handles.push(await dpop.createTask("slow_echo", { text: `b${i}`, delayMs: 30_000 }));
    expect(new Set(handles.map(shardOf)).size).toBe(1);
    for (const handle of handles) expect(decodeClaims(handle).cnf).toEqual({ jkt: key.jkt });
    for (const handle of handles) expect((await dpop.request("tasks/get", { taskId: handle })).reply?.result?.taskId).toBe(handle);
  });
});
