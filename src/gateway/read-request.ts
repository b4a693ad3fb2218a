import { Refusal } from "../errors.js";
import { classify, type Classified } from "../mcp/classify.js";
import { isObject, type ClientMessage } from "../mcp/envelope.js";
import { PROTOCOL_VERSION_HEADER } from "../mcp/headers.js";
import { decideRevision, PROTOCOL_VERSION_META, type DecidedRevision, type RevisionDecision } from "../mcp/revisions/index.js";
import { checkHeadersAgreeWithBody } from "../mcp/routing-headers.js";

/** The one reading of a request: the revision it is read under, and what it asks for under that revision. */
export interface ReadRequest {
  revision: DecidedRevision;
  classified: Classified;
}

/**
 * Decides the revision once (header, session, `_meta`, params must agree: 400 / -32020
 * otherwise), checks the routing headers that revision has against the body, and classifies the
 * message with that revision's module. Nothing later reads the revision again.
 */
export function readRequest(headers: Headers, message: ClientMessage, sessionRevision: string | undefined): ReadRequest {
  const params = message.kind === "response" ? undefined : message.params;
  const decision = decideRevision({
    header: headers.get(PROTOCOL_VERSION_HEADER) ?? undefined,
    metaVersion: isObject(params?._meta) ? params._meta[PROTOCOL_VERSION_META] : undefined,
    paramsProtocolVersion: params?.protocolVersion,
    method: message.kind === "response" ? undefined : message.method,
    sessionRevision,
  });
  if (!decision.ok) throw disagreement(decision, headers.get(PROTOCOL_VERSION_HEADER), sessionRevision);
  const revision = { version: decision.version, module: decision.module };
  checkHeadersAgreeWithBody(headers, message, revision.module);
  const classified = classify(message, revision.module);
  if (classified.route === "refused") throw classified.refusal;
  return { revision, classified };
}

function disagreement(decision: Extract<RevisionDecision, { ok: false }>, header: string | null, sessionRevision: string | undefined): Refusal {
  const { signal, claimed, decided } = decision;
  const basis =
    sessionRevision !== undefined
      ? `the session's negotiated version '${decided}'`
      : header !== null
        ? `MCP-Protocol-Version header value '${header}'`
        : `no MCP-Protocol-Version header (read as '${decided}')`;
  const wire =
    signal === "MCP-Protocol-Version"
      ? `Header mismatch: MCP-Protocol-Version header value '${claimed}' does not match ${basis}`
      : header !== null && sessionRevision === undefined
        ? `Header mismatch: MCP-Protocol-Version header value '${header}' does not match body value '${claimed}'`
        : `Header mismatch: ${signal} '${claimed}' does not match ${basis}`;
  return new Refusal("header_mismatch", `${signal} ${claimed} vs ${decided}`, wire);
}
