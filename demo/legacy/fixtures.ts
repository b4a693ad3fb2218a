/**
 * The conformance suite's 2025-11-25 fixtures on the SDK path (opt-in, `conformanceFixtures`):
 * the `tools-call-*` tools (content, logging, progress, sampling, elicitation, SSE reconnection),
 * the JSON Schema 2020-12 tool, resources, a resource template, prompts, completion and resource
 * subscriptions — what the suite's reference "everything server" offers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type JSONRPCMessage,
  type ListToolsResult,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import {
  CONTENT_TOOLS,
  JSON_SCHEMA_2020_12_INPUT_SCHEMA,
  JSON_SCHEMA_2020_12_TOOL,
  PROMPTS,
  RESOURCE_TEMPLATE,
  RESOURCES,
  templateContents,
  TOOL_ERROR_TEXT,
} from "../fixtures/content.js";

/** Capabilities the fixtures need beyond what registering tools, resources and prompts declares. */
export const FIXTURE_CAPABILITIES = { logging: {}, resources: { subscribe: true, listChanged: true } };

const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A process-wide in-memory event store, so SSE streams can be resumed with Last-Event-ID (SEP-1699). */
export function createEventStore(): EventStore {
  const events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  let counter = 0;
  return {
    async storeEvent(streamId, message) {
      const eventId = `${streamId}::${String(++counter).padStart(12, "0")}`;
      events.set(eventId, { streamId, message });
      return eventId;
    },
    async getStreamIdForEventId(eventId) {
      return events.get(eventId)?.streamId ?? eventId.split("::")[0];
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = lastEventId.split("::")[0]!;
      for (const [eventId, event] of events) {
        if (event.streamId === streamId && eventId > lastEventId && Object.keys(event.message).length > 0) await send(eventId, event.message);
      }
      return streamId;
    },
  };
}

function registerFixtureTools(server: McpServer): void {
  for (const [name, { description, content }] of Object.entries(CONTENT_TOOLS)) {
    server.registerTool(name, { description }, async () => ({ content: structuredClone(content) }) as CallToolResult);
  }

  server.registerTool("test_error_handling", { description: "Tests error response handling" }, async () => {
    throw new Error(TOOL_ERROR_TEXT);
  });

  server.registerTool("test_tool_with_logging", { description: "Emits three log messages during execution", inputSchema: {} }, async (_args, extra) => {
    for (const [index, data] of ["Tool execution started", "Tool processing data", "Tool execution completed"].entries()) {
      if (index > 0) await sleep(50);
      await extra.sendNotification({ method: "notifications/message", params: { level: "info", data } });
    }
    return text("Tool with logging executed successfully");
  });

  server.registerTool("test_tool_with_progress", { description: "Reports progress 0, 50, 100 of 100", inputSchema: {} }, async (_args, extra) => {
    const progressToken = extra._meta?.progressToken ?? 0;
    for (const progress of [0, 50, 100]) {
      if (progress > 0) await sleep(50);
      await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` } });
    }
    return text(String(progressToken));
  });

  server.registerTool("test_sampling", { description: "Asks the client's model (sampling/createMessage)", inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
    try {
      const result = await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 100 } },
        CreateMessageResultSchema,
      );
      const reply = result.content.type === "text" ? result.content.text : "(no text)";
      return text(`LLM response: ${reply}`);
    } catch (error) {
      return text(`Sampling not supported or error: ${(error as Error).message}`);
    }
  });

  /** Asks the client for input (a server-to-client elicitation/create on the session) and reports the answer. */
  async function elicit(extra: ToolExtra, message: string, requestedSchema: Record<string, unknown>): Promise<CallToolResult> {
    try {
      const result = await extra.sendRequest({ method: "elicitation/create", params: { mode: "form", message, requestedSchema } } as ServerRequest, ElicitResultSchema);
      return text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
    } catch (error) {
      return text(`Elicitation not supported or error: ${(error as Error).message}`);
    }
  }

  server.registerTool("test_elicitation", { description: "Asks the user for input (elicitation/create)", inputSchema: { message: z.string() } }, async ({ message }, extra) =>
    elicit(extra, message, { type: "object", properties: { response: { type: "string", description: "User's response" } }, required: ["response"] }),
  );

  server.registerTool(
    "test_elicitation_sep1034_defaults",
    { description: "Elicitation with default values for every primitive type (SEP-1034)", inputSchema: {} },
    async (_args, extra) =>
      elicit(extra, "Please review and update the form fields with defaults", {
        type: "object",
        properties: {
          name: { type: "string", description: "User name", default: "John Doe" },
          age: { type: "integer", description: "User age", default: 30 },
          score: { type: "number", description: "User score", default: 95.5 },
          status: { type: "string", description: "User status", enum: ["active", "inactive", "pending"], default: "active" },
          verified: { type: "boolean", description: "Verification status", default: true },
        },
        required: [],
      }),
  );

  server.registerTool(
    "test_elicitation_sep1330_enums",
    { description: "Elicitation with every enum schema variant (SEP-1330)", inputSchema: {} },
    async (_args, extra) =>
      elicit(extra, "Please select options from the enum fields", {
        type: "object",
        properties: {
          untitledSingle: { type: "string", description: "Select one option", enum: ["option1", "option2", "option3"] },
          titledSingle: {
            type: "string",
            description: "Select one option with titles",
            oneOf: [
              { const: "value1", title: "First Option" },
              { const: "value2", title: "Second Option" },
              { const: "value3", title: "Third Option" },
            ],
          },
          legacyEnum: { type: "string", description: "Select one option (legacy)", enum: ["opt1", "opt2", "opt3"], enumNames: ["Option One", "Option Two", "Option Three"] },
          untitledMulti: { type: "array", description: "Select multiple options", minItems: 1, maxItems: 3, items: { type: "string", enum: ["option1", "option2", "option3"] } },
          titledMulti: {
            type: "array",
            description: "Select multiple options with titles",
            minItems: 1,
            maxItems: 3,
            items: {
              anyOf: [
                { const: "value1", title: "First Choice" },
                { const: "value2", title: "Second Choice" },
                { const: "value3", title: "Third Choice" },
              ],
            },
          },
        },
        required: [],
      }),
  );

  server.registerTool(
    "test_reconnection",
    { description: "Closes its SSE stream mid-call; the result arrives after the client reconnects with Last-Event-ID (SEP-1699)", inputSchema: {} },
    async (_args, extra) => {
      extra.closeSSEStream?.();
      await sleep(100);
      return text("Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.");
    },
  );

  server.registerTool(
    JSON_SCHEMA_2020_12_TOOL,
    { description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613, SEP-2106)", inputSchema: { name: z.string().optional() } },
    async (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );
  advertiseRawSchema(server, JSON_SCHEMA_2020_12_TOOL, JSON_SCHEMA_2020_12_INPUT_SCHEMA);
}

type RawHandler = (request: unknown, extra: unknown) => Promise<unknown>;

/**
 * The SDK derives inputSchema from zod and would drop 2020-12 keywords ($defs, $anchor, if/then/else),
 * so tools/list is wrapped to advertise this one tool's schema verbatim.
 */
function advertiseRawSchema(server: McpServer, toolName: string, inputSchema: object): void {
  const handlers = (server.server as unknown as { _requestHandlers: Map<string, RawHandler> })._requestHandlers;
  const listTools = handlers.get("tools/list");
  if (!listTools) return;
  handlers.set("tools/list", async (request, extra) => {
    const result = (await listTools(request, extra)) as ListToolsResult;
    for (const tool of result.tools) if (tool.name === toolName) tool.inputSchema = structuredClone(inputSchema) as ListToolsResult["tools"][number]["inputSchema"];
    return result;
  });
}

function registerFixtureResources(server: McpServer): void {
  for (const resource of RESOURCES) {
    const { uri, name, title, description, mimeType } = resource;
    server.registerResource(name, uri, { title, description, mimeType }, async () => ({
      contents: [{ uri, mimeType, ...(resource.blob !== undefined ? { blob: resource.blob } : { text: resource.text! }) }],
    }));
  }
  const { uriTemplate, name, title, description, mimeType } = RESOURCE_TEMPLATE;
  server.registerResource(name, new ResourceTemplate(uriTemplate, { list: undefined }), { title, description, mimeType }, async (uri) => ({
    contents: [templateContents(uri.toString()) ?? { uri: uri.toString(), mimeType, text: "{}" }],
  }));

  const subscriptions = new Set<string>();
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });
}

function registerFixturePrompts(server: McpServer): void {
  for (const prompt of PROMPTS) {
    const argsSchema = prompt.arguments
      ? Object.fromEntries(
          prompt.arguments.map((argument) => [
            argument.name,
            // arg1 of test_prompt_with_arguments completes, so completion/complete has something to do.
            argument.name === "arg1"
              ? completable(z.string().describe(argument.description), (value) => ["paris", "park", "party", "test"].filter((s) => s.startsWith(value)))
              : z.string().describe(argument.description),
          ]),
        )
      : undefined;
    server.registerPrompt(prompt.name, { title: prompt.title, description: prompt.description, ...(argsSchema ? { argsSchema } : {}) }, async (args: Record<string, string> = {}) => ({
      messages: prompt.messages(args) as never,
    }));
  }
}

/** Registers every fixture on `server` (create it with FIXTURE_CAPABILITIES merged in). */
export function registerConformanceFixtures(server: McpServer): void {
  registerFixtureTools(server);
  registerFixtureResources(server);
  registerFixturePrompts(server);
}
