import type { RevisionModule } from "./index.js";
import { DEFAULT_REVISION, moduleFor } from "./registry.js";

/** Everything a request says about its revision. */
export interface RevisionSignals {
  /** The `MCP-Protocol-Version` header. */
  header: string | undefined;
  /** `params._meta["io.modelcontextprotocol/protocolVersion"]`, when present (any JSON value). */
  metaVersion: unknown;
  /** `params.protocolVersion`, when present: a negotiation offer on `initialize`, a claim anywhere else. */
  paramsProtocolVersion: unknown;
  /** The JSON-RPC method, when the message has one. */
  method: string | undefined;
  /** For a 2025-11-25 session: the version it negotiated (provided by the session module). */
  sessionRevision: string | undefined;
}

export interface DecidedRevision {
  version: string;
  module: RevisionModule;
}

export type RevisionDecision = ({ ok: true } & DecidedRevision) | { ok: false; signal: string; claimed: string; decided: string };

type Check = (signals: RevisionSignals, decided: string) => { signal: string; claimed: string } | undefined;

const claim = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

/** The checks, in the order they are applied: the first disagreement found is the one reported. */
const AGREEMENT_CHECKS: readonly Check[] = [
  (s, decided) => (s.header !== undefined && s.header !== decided ? { signal: "MCP-Protocol-Version", claimed: s.header } : undefined),
  (s, decided) => (s.metaVersion !== undefined && s.metaVersion !== decided ? { signal: "_meta protocolVersion", claimed: claim(s.metaVersion) } : undefined),
  (s, decided) =>
    s.method !== "initialize" && s.paramsProtocolVersion !== undefined && s.paramsProtocolVersion !== decided
      ? { signal: "params.protocolVersion", claimed: claim(s.paramsProtocolVersion) }
      : undefined,
];

/**
 * The one revision a request is read under: the session's negotiated version when there is one,
 * else the header, else the default (2025-11-25). Every other signal must agree with it; a
 * disagreement is a value (the caller answers 400 / -32020), never a silent choice.
 */
export function decideRevision(signals: RevisionSignals): RevisionDecision {
  const decided = signals.sessionRevision ?? signals.header ?? DEFAULT_REVISION;
  for (const check of AGREEMENT_CHECKS) {
    const disagreement = check(signals, decided);
    if (disagreement) return { ok: false, ...disagreement, decided };
  }
  return { ok: true, version: decided, module: moduleFor(decided) };
}
