import type { Principal } from "../../auth/principal.js";
import type { Config, WorkerEnv } from "../../config.js";
import type { KeyRing } from "../../handle/keyring.js";
import type { ClientMessage, JsonObject } from "../../mcp/envelope.js";
import { rewriteOutboundMessage } from "../../mcp/rewrite.js";
import type { DecidedRevision } from "../../mcp/revisions/index.js";
import type { MessageRewriter } from "../../proxy/respond.js";
import type { OriginAssertionOp } from "../../origin/origin-assertion-claims.js";
import type { CreationSlot } from "../../ledger/creation-slot.js";
import { taskIdMapperFor, type MapperScope } from "../task-id-mapper.js";

/** What every route receives: who is calling, under which revision, and the request's resources. */
export interface RouteContext {
  env: WorkerEnv;
  config: Config;
  principal: Principal;
  revision: DecidedRevision;
  /** This call's transaction id: in the decision's audit event and in the origin assertion. */
  txn: string;
  /** The origin's id of the 2025-11-25 session the call belongs to (kept with created tasks for a supervisory cancel). */
  originSession?: string;
  /** The location hint of the caller's region (from request.cf): where a new ledger shard is placed. Read only by creations. */
  callerRegion?(): DurableObjectLocationHint | undefined;
  /** The signing key ring (refused with `signing_unavailable` when it cannot be loaded). */
  keyRing(): Promise<KeyRing>;
  waitUntil(promise: Promise<unknown>): void;
}

/** What a route decided: the origin receives exactly `message`, and each answer passes through `mapResponse`. */
export interface ForwardPlan {
  /** The message the origin receives, a new object built from the reading (the client's parsed message is never edited). */
  message: ClientMessage;
  /** Taskward-Task-Handle: the verified handle(s), for the origin's stateless re-verification. */
  handle?: string;
  /** The forwarded message is a task follow-up (its Mcp-Name names the origin's task). */
  taskFollowUp?: boolean;
  /** What the per-call origin assertion states the edge decided: the operation and the task(s) it concerns. */
  asserted: AssertedOperation;
  /** A creation slot reserved for this call: given back unless the answer creates a task. */
  slot?: CreationSlot;
  mapResponse: MessageRewriter;
}

export interface AssertedOperation {
  op: OriginAssertionOp;
  task?: string;
  tasks?: string[];
  handleJti?: string;
}

/** A copy of `message` as the decided revision encodes it for the origin, with `params` replaced when given. */
export function reencoded(message: ClientMessage, context: RouteContext, params?: JsonObject): ClientMessage {
  if (message.kind === "response") return { ...message, raw: { ...message.raw } };
  const source = params ?? message.params;
  const encoded = source === undefined ? undefined : context.revision.module.encodeParams(source);
  const raw: JsonObject = { ...message.raw };
  if (encoded === undefined) delete raw.params;
  else raw.params = encoded;
  return { ...message, params: encoded, raw };
}

/** The response mapper for one request: origin ids → handles, payloads withheld, under the decided revision. */
export function outboundRewriter(context: RouteContext, message: ClientMessage, scope: Omit<MapperScope, "env" | "config" | "principal" | "waitUntil"> = {}, creates = false, slot?: CreationSlot): MessageRewriter {
  const requestMethod = message.kind === "request" ? message.method : undefined;
  const untracked = taskIdMapperFor({ ...scope, env: context.env, config: context.config, principal: context.principal, waitUntil: context.waitUntil, requestMethod });
  // A minted handle keeps the creation slot; anything else gives it back.
  const mapper = slot ? slot.track(untracked) : untracked;
  const requestId = message.kind === "notification" ? undefined : message.id;
  return (m) => rewriteOutboundMessage(m, { requestId, requestMethod, mapper, module: context.revision.module, creates });
}
