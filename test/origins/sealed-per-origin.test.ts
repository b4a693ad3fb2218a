/** Sealed values handed to clients open only behind the origin they were sealed for (the default origin's carry none). */
import { describe, expect, it } from "vitest";
import { openCursor, sealCursor } from "../../src/handle/cursor.js";
import { eventIdSealer } from "../../src/proxy/event-ids.js";
import { testKeyRing } from "../adversarial/support.js";

const caller = { tenant: "t", clientId: "c", subject: "s" };
const ISSUER = "https://taskward.test";

describe("per-origin sealing", () => {
  it("a tasks/list cursor opens only behind its own origin", async () => {
    const keyRing = await testKeyRing();
    const atBeta = await sealCursor("origin-cursor", { ...caller, origin: "beta" }, keyRing, ISSUER);
    const atDefault = await sealCursor("origin-cursor", caller, keyRing, ISSUER);
    expect(await openCursor(atBeta, { ...caller, origin: "beta" }, keyRing, ISSUER)).toBe("origin-cursor");
    expect(await openCursor(atBeta, caller, keyRing, ISSUER)).toBeUndefined();
    expect(await openCursor(atBeta, { ...caller, origin: "gamma" }, keyRing, ISSUER)).toBeUndefined();
    expect(await openCursor(atDefault, caller, keyRing, ISSUER)).toBe("origin-cursor");
    expect(await openCursor(atDefault, { ...caller, origin: "beta" }, keyRing, ISSUER)).toBeUndefined();
  });

  it("an SSE event id resumes only behind its own origin", async () => {
    const keyRing = await testKeyRing();
    const beta = eventIdSealer(keyRing, { ...caller, origin: "beta" });
    const main = eventIdSealer(keyRing, caller);
    const sealed = await beta.seal("evt-1");
    expect(await beta.open(sealed)).toBe("evt-1");
    expect(await main.open(sealed)).toBeUndefined();
    expect(await main.open(await main.seal("evt-2"))).toBe("evt-2");
    expect(await beta.open(await main.seal("evt-2"))).toBeUndefined();
  });
});
