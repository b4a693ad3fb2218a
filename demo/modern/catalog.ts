/**
 * resources/*, prompts/* and completion/complete for the 2026-07-28 mode. List and read results
 * carry the caching hints `ttlMs` and `cacheScope` (SEP-2549) — a cache-freshness hint, unrelated
 * to a task's `ttlMs`.
 */
import { PROMPTS, readResource, RESOURCE_TEMPLATE, RESOURCES } from "../fixtures/content.js";
import { acceptedContent, elicitation, inputRequired, inputResponsesOf, requireCapabilitiesFor } from "./mrtr.js";
import { invalidParams, isObject, type JsonObject } from "./protocol.js";

/** Cache hints for list and read results: the fixtures never change while the process runs. */
export const CACHE_HINTS = { ttlMs: 60_000, cacheScope: "public" } as const;

export function listResources(): JsonObject {
  return { resources: RESOURCES.map(({ uri, name, title, description, mimeType }) => ({ uri, name, title, description, mimeType })), ...CACHE_HINTS };
}

export function listResourceTemplates(): JsonObject {
  return { resourceTemplates: [{ ...RESOURCE_TEMPLATE }], ...CACHE_HINTS };
}

/** resources/read; an unknown URI is -32602 with the URI in `data` (SEP-2164), never empty contents. */
export function readResourceResult(params: JsonObject): JsonObject {
  if (typeof params.uri !== "string") throw invalidParams("Invalid params: resources/read requires params.uri");
  const contents = readResource(params.uri);
  if (!contents) throw invalidParams("Resource not found", { uri: params.uri });
  return { contents, ...CACHE_HINTS };
}

/** A prompt that needs the client's input first (`input-required-result-non-tool-request`). */
const INPUT_REQUIRED_PROMPT = {
  name: "test_input_required_result_prompt",
  title: "Prompt Needing Input",
  description: "Asks the client (MRTR elicitation) for context before rendering",
};

export function listPrompts(): JsonObject {
  const prompts = [...PROMPTS.map(({ messages: _messages, ...prompt }) => prompt), INPUT_REQUIRED_PROMPT];
  return { prompts, ...CACHE_HINTS };
}

/** prompts/get; an InputRequiredResult for the MRTR prompt until the client supplies its context. */
export function getPrompt(params: JsonObject, capabilities: JsonObject): JsonObject {
  if (typeof params.name !== "string") throw invalidParams("Invalid params: prompts/get requires params.name");
  const args = isObject(params.arguments) ? params.arguments : {};
  if (params.name === INPUT_REQUIRED_PROMPT.name) {
    const ask = elicitation("What context should the prompt use?", { context: { type: "string" } });
    requireCapabilitiesFor(capabilities, [ask]);
    const context = acceptedContent(inputResponsesOf(params)?.user_context)?.context;
    if (typeof context !== "string") return inputRequired({ user_context: ask });
    return { description: INPUT_REQUIRED_PROMPT.description, messages: [{ role: "user", content: { type: "text", text: `Use this context: ${context}` } }] };
  }
  const prompt = PROMPTS.find((candidate) => candidate.name === params.name);
  if (!prompt) throw invalidParams(`Invalid params: unknown prompt ${params.name}`);
  const values: Record<string, string> = {};
  for (const argument of prompt.arguments ?? []) {
    const value = args[argument.name];
    if (value === undefined && argument.required) throw invalidParams(`Invalid params: prompt ${prompt.name} requires argument ${argument.name}`);
    if (value !== undefined) values[argument.name] = String(value);
  }
  return { description: prompt.description, messages: prompt.messages(values) };
}

const COMPLETIONS = ["paris", "park", "party", "test", "testValue1", "testValue2"];

/** completion/complete: fixed suggestions filtered by the typed prefix. */
export function complete(params: JsonObject): JsonObject {
  const argument = isObject(params.argument) ? params.argument : {};
  const prefix = typeof argument.value === "string" ? argument.value : "";
  const values = COMPLETIONS.filter((value) => value.startsWith(prefix));
  return { completion: { values, total: values.length, hasMore: false } };
}
