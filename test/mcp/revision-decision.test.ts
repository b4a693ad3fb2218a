import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideRevision, DEFAULT_REVISION, moduleFor, type RevisionSignals } from "../../src/mcp/revisions/index.js";

const V2025 = "2025-11-25";
const V2026 = "2026-07-28";

function signals(overrides: Partial<RevisionSignals>): RevisionSignals {
  return { header: undefined, metaVersion: undefined, paramsProtocolVersion: undefined, method: "tools/call", sessionRevision: undefined, ...overrides };
}

describe("decideRevision", () => {
  it("without header or session reads the request as the documented default, 2025-11-25", () => {
    expect(DEFAULT_REVISION).toBe(V2025);
    expect(decideRevision(signals({}))).toMatchObject({ ok: true, version: V2025, module: { name: V2025 } });
  });

  it("refuses a _meta or params claim that differs from the default when nothing else names a revision", () => {
    expect(decideRevision(signals({ metaVersion: V2026 }))).toEqual({ ok: false, signal: "_meta protocolVersion", claimed: V2026, decided: V2025 });
    expect(decideRevision(signals({ paramsProtocolVersion: V2026 }))).toEqual({ ok: false, signal: "params.protocolVersion", claimed: V2026, decided: V2025 });
    expect(decideRevision(signals({ metaVersion: 2026 }))).toMatchObject({ ok: false, claimed: "2026" });
  });

  it("takes initialize's params.protocolVersion as a negotiation offer, not a claim", () => {
    expect(decideRevision(signals({ method: "initialize", paramsProtocolVersion: "2025-06-18" }))).toMatchObject({ ok: true, version: V2025 });
    expect(decideRevision(signals({ method: "initialize", paramsProtocolVersion: V2026 }))).toMatchObject({ ok: true, version: V2025 });
  });

  it("a 2025-11-25 session decides: the header must agree with the version it negotiated", () => {
    expect(decideRevision(signals({ sessionRevision: "2025-06-18" }))).toMatchObject({ ok: true, version: "2025-06-18", module: { name: V2025 } });
    expect(decideRevision(signals({ sessionRevision: V2025, header: V2025 }))).toMatchObject({ ok: true, version: V2025 });
    expect(decideRevision(signals({ sessionRevision: V2025, header: V2026 }))).toEqual({ ok: false, signal: "MCP-Protocol-Version", claimed: V2026, decided: V2025 });
    expect(decideRevision(signals({ sessionRevision: V2025, metaVersion: V2026 }))).toEqual({ ok: false, signal: "_meta protocolVersion", claimed: V2026, decided: V2025 });
  });

  it("the header decides otherwise; each version is read by the newest module not later than it", () => {
    expect(decideRevision(signals({ header: V2026, metaVersion: V2026 }))).toMatchObject({ ok: true, version: V2026, module: { name: V2026 } });
    expect(moduleFor("2024-11-05").name).toBe(V2025);
    expect(moduleFor("2099-01-01").name).toBe(V2026);
  });

  it("property: accepted means every signal present equals the decided version, and the session (else header) wins", () => {
    const version = fc.constantFrom(undefined, "2024-11-05", V2025, V2026);
    fc.assert(
      fc.property(version, version, version, version, fc.constantFrom("initialize", "tools/call", undefined), (header, metaVersion, paramsProtocolVersion, sessionRevision, method) => {
        const decision = decideRevision({ header, metaVersion, paramsProtocolVersion, sessionRevision, method });
        const decided = sessionRevision ?? header ?? V2025;
        const claims = [header, metaVersion, method === "initialize" ? undefined : paramsProtocolVersion].filter((v) => v !== undefined);
        const agree = claims.every((v) => v === decided);
        expect(decision.ok).toBe(agree);
        if (decision.ok) expect(decision.version).toBe(decided);
        else expect(decision.decided).toBe(decided);
      }),
    );
  });
});
