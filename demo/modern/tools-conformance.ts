/**
 * The conformance suite's non-task tool fixtures on the 2026-07-28 wire: content tools
 * (`tools-call-*`), progress and logging, the `server-stateless` diagnostics, an `x-mcp-header`
 * tool (`http-custom-header-server-validation`), the JSON Schema 2020-12 tool, and the
 * `input-required-result-*` (MRTR) tools.
 */
import {
  CONTENT_TOOLS,
  JSON_SCHEMA_2020_12_INPUT_SCHEMA,
  JSON_SCHEMA_2020_12_TOOL,
  TOOL_ERROR_TEXT,
} from "../fixtures/content.js";
import {
  acceptedContent,
  elicitation,
  inputRequired,
  listRoots,
  requireCapabilitiesFor,
  sampledText,
  sampling,
  type InputRequest,
} from "./mrtr.js";
import { invalidParams, isObject, missingCapability, type JsonObject } from "./protocol.js";
import { pause, textResult, type ModernTool, type ToolContext } from "./tools.js";

const EMPTY_SCHEMA: JsonObject = { type: "object", properties: {} };

/**
 * One MRTR exchange: ask for every request not yet answered (re-asking after a wrong or partial
 * retry), and finish once all are. With `sealed`, the server's requestState must come back intact.
 */
function exchange(
  context: ToolContext,
  requests: Record<string, InputRequest>,
  finish: (responses: Record<string, JsonObject>) => JsonObject,
  options: { sealed?: boolean } = {},
): JsonObject {
  requireCapabilitiesFor(context.capabilities, Object.values(requests));
  const state = options.sealed ? { tool: context.name } : undefined;
  if (state && context.inputResponses !== undefined) {
    const opened = context.states.open(context.requestState);
    if (opened.tool !== context.name) throw invalidParams("Invalid params: requestState belongs to another request");
  }
  const responses = context.inputResponses ?? {};
  const missing = Object.keys(requests).filter((key) => responses[key] === undefined);
  if (missing.length > 0) return inputRequired(Object.fromEntries(missing.map((key) => [key, requests[key]!])), state && context.states.seal(state));
  return finish(responses);
}

function contentTools(): ModernTool[] {
  return Object.entries(CONTENT_TOOLS).map(([name, { description, content }]) => ({
    name,
    description,
    inputSchema: EMPTY_SCHEMA,
    call: async () => ({ content: structuredClone(content) }),
  }));
}

async function emitLogs(context: ToolContext, signal: AbortSignal): Promise<JsonObject> {
  for (const [index, message] of ["Tool execution started", "Tool processing data", "Tool execution completed"].entries()) {
    if (index > 0) await pause(50, signal);
    context.log("info", message);
  }
  return textResult("Tool with logging executed successfully");
}

function diagnosticTools(): ModernTool[] {
  return [
    {
      name: "test_error_handling",
      description: "Tests error response handling (a tool execution error)",
      inputSchema: EMPTY_SCHEMA,
      call: async () => textResult(TOOL_ERROR_TEXT, true),
    },
    {
      name: "test_tool_with_progress",
      description: "Reports progress 0, 50, 100 (of 100) when the request carries a progressToken",
      inputSchema: EMPTY_SCHEMA,
      call: async (context) => {
        const progressToken = context.meta.progressToken;
        for (const progress of [0, 50, 100]) {
          if (progress > 0) await pause(50, context.signal);
          if (typeof progressToken === "string" || typeof progressToken === "number") {
            context.notify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` } });
          }
        }
        return textResult(`progress reported for token ${String(progressToken ?? "(none)")}`);
      },
    },
    {
      name: "test_tool_with_logging",
      description: "Emits three log messages (only when the request sets _meta logLevel)",
      inputSchema: EMPTY_SCHEMA,
      call: (context) => emitLogs(context, context.signal),
    },
    {
      name: "test_logging_tool",
      description: "Emits log messages only when the request sets _meta logLevel (server-stateless)",
      inputSchema: EMPTY_SCHEMA,
      call: (context) => emitLogs(context, context.signal),
    },
    {
      name: "test_missing_capability",
      description: "Needs the client's sampling capability: -32021 when the request did not declare it",
      inputSchema: EMPTY_SCHEMA,
      call: async (context) => {
        if (!isObject(context.capabilities.sampling)) throw missingCapability({ sampling: {} });
        return exchange(context, { answer: sampling("Say hello") }, (responses) => textResult(`sampled: ${sampledText(responses.answer) ?? "(nothing)"}`));
      },
    },
    {
      name: "test_streaming_elicitation",
      description: "Asks for input with an InputRequiredResult (never a server-to-client request on the stream)",
      inputSchema: EMPTY_SCHEMA,
      call: async (context) =>
        exchange(context, { answer: elicitation("Anything to add?", { answer: { type: "string" } }) }, (responses) =>
          textResult(`answer: ${String(acceptedContent(responses.answer)?.answer ?? "(none)")}`),
        ),
    },
    {
      name: "test_trigger_tool_change",
      description: "Announces notifications/tools/list_changed to subscriptions/listen streams that asked for it",
      inputSchema: EMPTY_SCHEMA,
      call: async (context) => {
        context.events.toolsListChanged();
        return textResult("tools/list_changed announced");
      },
    },
    {
      name: "test_trigger_prompt_change",
      description: "Announces notifications/prompts/list_changed to subscriptions/listen streams that asked for it",
      inputSchema: EMPTY_SCHEMA,
      call: async (context) => {
        context.events.promptsListChanged();
        return textResult("prompts/list_changed announced");
      },
    },
    {
      name: "test_header_param",
      description: "Echoes `region`, which clients mirror into the Mcp-Param-Region header (x-mcp-header)",
      inputSchema: {
        type: "object",
        properties: { region: { type: "string", description: "A region, mirrored in Mcp-Param-Region", "x-mcp-header": "Region" } },
        required: ["region"],
      },
      call: async ({ args }) => textResult(`region: ${String(args.region)}`),
    },
    {
      name: JSON_SCHEMA_2020_12_TOOL,
      description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613, SEP-2106)",
      inputSchema: structuredClone(JSON_SCHEMA_2020_12_INPUT_SCHEMA) as unknown as JsonObject,
      call: async ({ args }) => textResult(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
    },
  ];
}

const userName = (): InputRequest => elicitation("What is your name?", { name: { type: "string" } });
const confirm = (): InputRequest => elicitation("Please confirm", { ok: { type: "boolean" } });

function inputRequiredTools(): ModernTool[] {
  const tool = (name: string, description: string, call: (context: ToolContext) => JsonObject): ModernTool => ({
    name,
    description,
    inputSchema: EMPTY_SCHEMA,
    call: async (context) => call(context),
  });
  return [
    tool("test_input_required_result_elicitation", "MRTR: asks for user_name by elicitation, then greets", (context) =>
      exchange(context, { user_name: userName() }, (r) => textResult(`Hello, ${String(acceptedContent(r.user_name)?.name ?? "stranger")}!`)),
    ),
    tool("test_input_required_result_sampling", "MRTR: asks the client's model a question", (context) =>
      exchange(context, { capital_question: sampling("What is the capital of France?") }, (r) => textResult(`The model said: ${sampledText(r.capital_question) ?? "(nothing)"}`)),
    ),
    tool("test_input_required_result_list_roots", "MRTR: asks for the client's roots", (context) =>
      exchange(context, { client_roots: listRoots() }, (r) => textResult(`roots: ${JSON.stringify(r.client_roots?.roots ?? [])}`)),
    ),
    tool("test_input_required_result_request_state", "MRTR with a sealed requestState", (context) =>
      exchange(context, { confirm: confirm() }, (r) => textResult(`confirmed: ${String(acceptedContent(r.confirm)?.ok ?? false)}`), { sealed: true }),
    ),
    tool("test_input_required_result_tampered_state", "MRTR whose requestState is integrity-checked (HMAC)", (context) =>
      exchange(context, { confirm: confirm() }, (r) => textResult(`confirmed: ${String(acceptedContent(r.confirm)?.ok ?? false)}`), { sealed: true }),
    ),
    tool("test_input_required_result_multiple_inputs", "MRTR: elicitation, sampling and roots/list at once", (context) =>
      exchange(
        context,
        { user_name: userName(), greeting: sampling("Generate a greeting", 50), client_roots: listRoots() },
        (r) => textResult(`${sampledText(r.greeting) ?? "Hi"} ${String(acceptedContent(r.user_name)?.name ?? "")} (${JSON.stringify(r.client_roots?.roots ?? [])})`),
        { sealed: true },
      ),
    ),
    tool("test_input_required_result_multi_round", "MRTR over two rounds; requestState carries round 1's answer", (context) => {
      requireCapabilitiesFor(context.capabilities, [userName()]);
      const step1 = elicitation("Step 1: What is your name?", { name: { type: "string" } });
      const step2 = elicitation("Step 2: What is your favorite color?", { color: { type: "string" } });
      if (context.inputResponses === undefined) return inputRequired({ step1 }, context.states.seal({ tool: context.name, round: 1 }));
      const state = context.states.open(context.requestState);
      if (state.tool !== context.name) throw invalidParams("Invalid params: requestState belongs to another request");
      if (state.round === 1) {
        const name = acceptedContent(context.inputResponses.step1)?.name;
        if (typeof name !== "string") return inputRequired({ step1 }, context.states.seal({ tool: context.name, round: 1 }));
        return inputRequired({ step2 }, context.states.seal({ tool: context.name, round: 2, name }));
      }
      const color = acceptedContent(context.inputResponses.step2)?.color;
      if (typeof color !== "string") return inputRequired({ step2 }, context.states.seal({ ...state }));
      return textResult(`${String(state.name)} likes ${color}`);
    }),
    tool("test_input_required_result_capabilities", "MRTR that only asks for what the request's capabilities allow", (context) => {
      const requests: Record<string, InputRequest> = {};
      if (isObject(context.capabilities.sampling)) requests.model_opinion = sampling("Say something");
      if (isObject(context.capabilities.elicitation)) requests.user_opinion = elicitation("Say something", { text: { type: "string" } });
      if (Object.keys(requests).length === 0) throw missingCapability({ sampling: {} });
      return exchange(context, requests, () => textResult("thanks for your input"));
    }),
  ];
}

export function conformanceTools(): ModernTool[] {
  return [...contentTools(), ...diagnosticTools(), ...inputRequiredTools()];
}
