/**
 * Multi round-trip requests (SEP-2322), the 2026-07-28 replacement for server-to-client requests:
 * a handler answers `InputRequiredResult { resultType: "input_required", inputRequests,
 * requestState? }` and the client retries the same request with `inputResponses` (and the
 * `requestState`). The demo keeps no state between rounds: `requestState` is HMAC-sealed JSON.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { invalidParams, isObject, missingCapability, type JsonObject } from "./protocol.js";

export type InputRequest = JsonObject & { method: string };

export function elicitation(message: string, properties: JsonObject, required: string[] = Object.keys(properties)): InputRequest {
  return { method: "elicitation/create", params: { mode: "form", message, requestedSchema: { type: "object", properties, required } } };
}

export function sampling(text: string, maxTokens = 100): InputRequest {
  return { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text } }], maxTokens } };
}

export function listRoots(): InputRequest {
  return { method: "roots/list", params: {} };
}

/** The client capability each kind of input request relies on. */
const CAPABILITY_OF: Record<string, string> = { "elicitation/create": "elicitation", "sampling/createMessage": "sampling", "roots/list": "roots" };

export function capabilityFor(request: InputRequest): string | undefined {
  return CAPABILITY_OF[request.method];
}

/** Throws -32021 unless the request's client capabilities cover every input request. */
export function requireCapabilitiesFor(capabilities: JsonObject, requests: InputRequest[]): void {
  const missing: JsonObject = {};
  for (const request of requests) {
    const capability = capabilityFor(request);
    if (capability && !isObject(capabilities[capability])) missing[capability] = {};
  }
  if (Object.keys(missing).length > 0) throw missingCapability(missing);
}

export function inputRequired(inputRequests: Record<string, InputRequest>, requestState?: string): JsonObject {
  return { resultType: "input_required", inputRequests, ...(requestState === undefined ? {} : { requestState }) };
}

/** `params.inputResponses`: absent, or an object of response objects (anything else is -32602). */
export function inputResponsesOf(params: JsonObject): Record<string, JsonObject> | undefined {
  if (!("inputResponses" in params)) return undefined;
  const responses = params.inputResponses;
  if (!isObject(responses)) throw invalidParams("Invalid params: inputResponses must be an object");
  for (const [key, value] of Object.entries(responses)) {
    if (!isObject(value)) throw invalidParams(`Invalid params: inputResponses.${key} must be an object`);
  }
  return responses as Record<string, JsonObject>;
}

/** The submitted content of an accepted elicitation, else undefined (declined, cancelled, malformed). */
export function acceptedContent(response: JsonObject | undefined): JsonObject | undefined {
  return response?.action === "accept" && isObject(response.content) ? response.content : undefined;
}

/** Text of a sampling response (`{ role, content: { type: "text", text }, model }`). */
export function sampledText(response: JsonObject | undefined): string | undefined {
  const content = response?.content;
  return isObject(content) && typeof content.text === "string" ? content.text : undefined;
}

/** Integrity-protected requestState: base64url(JSON) + "." + base64url(HMAC-SHA256). */
export class RequestStates {
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.key = key;
  }

  seal(state: JsonObject): string {
    const body = Buffer.from(JSON.stringify(state), "utf8").toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  /** The state sealed by this server; anything forged, truncated or tampered with is -32602. */
  open(value: unknown): JsonObject {
    if (typeof value !== "string") throw invalidParams("Invalid params: requestState is missing");
    const [body, mac, extra] = value.split(".");
    if (!body || !mac || extra !== undefined) throw invalidParams("Invalid params: requestState failed its integrity check");
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalidParams("Invalid params: requestState failed its integrity check");
    try {
      const state: unknown = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      if (isObject(state)) return state;
    } catch {
      // fall through
    }
    throw invalidParams("Invalid params: requestState failed its integrity check");
  }

  private mac(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("base64url");
  }
}
