/**
 * Task fixtures: the tools the conformance `tasks-*` scenarios require (greet, slow_compute,
 * failing_job, protocol_error_job, confirm_delete, multi_input, test_tool_with_task) and the
 * demo's own 2025-11-25 tools with 2026-07-28 task semantics (a tool error is a `completed` task
 * whose result has `isError: true`; `failed` is reserved for JSON-RPC errors).
 */
import { acceptedContent, elicitation, inputRequired, requireCapabilitiesFor, type InputRequest } from "./mrtr.js";
import { ErrorCode, invalidParams, RpcError, type JsonObject } from "./protocol.js";
import { pause, textResult, type ModernTool, type ToolContext } from "./tools.js";

const confirmRequest = (filename: string): InputRequest =>
  elicitation(`Delete ${filename}? This cannot be undone.`, { confirm: { type: "boolean", description: "Confirm the deletion" } });
const nameRequest = (): InputRequest => elicitation("What is your name?", { name: { type: "string", description: "Your name" } });
const colorRequest = (): InputRequest => elicitation("What is your favorite color?", { color: { type: "string", description: "A color" } });

function deletionOutcome(filename: string, response: JsonObject | undefined): JsonObject {
  return textResult(acceptedContent(response)?.confirm === true ? `Deleted ${filename}` : `Kept ${filename} (not confirmed)`);
}

function multiOutcome(name: JsonObject | undefined, color: JsonObject | undefined): JsonObject {
  const who = acceptedContent(name)?.name ?? "(no name)";
  const hue = acceptedContent(color)?.color ?? "(no color)";
  return textResult(`multi_input done: name=${String(who)}, color=${String(hue)}`);
}

/** The MRTR (no task) form of a tool that needs input: ask for every missing key, finish when all are answered. */
function askSynchronously(context: ToolContext, requests: Record<string, InputRequest>, finish: (responses: Record<string, JsonObject>) => JsonObject): JsonObject {
  requireCapabilitiesFor(context.capabilities, Object.values(requests));
  const responses = context.inputResponses ?? {};
  const missing = Object.keys(requests).filter((key) => responses[key] === undefined);
  if (missing.length > 0) return inputRequired(Object.fromEntries(missing.map((key) => [key, requests[key]!])));
  return finish(responses);
}

export function taskFixtureTools(): ModernTool[] {
  return [
    {
      name: "greet",
      description: "Greets someone; always synchronous, never a task.",
      inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
      call: async ({ args }) => textResult(`Hello, ${String(args.name)}!`),
    },
    {
      name: "slow_compute",
      description: "Sleeps `seconds`, then returns a result. A task when the client declares the tasks extension, else synchronous.",
      inputSchema: {
        type: "object",
        properties: { seconds: { type: "number", minimum: 0, maximum: 600 }, label: { type: "string" } },
        required: ["seconds"],
      },
      task: "optional",
      work: async (args, task) => {
        const seconds = Number(args.seconds);
        await pause(seconds * 1000, task.signal);
        return textResult(`slow_compute(${String(args.label ?? "")}) finished after ${seconds}s`);
      },
    },
    {
      name: "failing_job",
      description: "A task (required) that ends after about 1s with a tool execution error: status completed, result.isError.",
      inputSchema: { type: "object", properties: {} },
      task: "required",
      work: async (_args, task) => {
        await pause(1000, task.signal);
        return textResult("failing_job: the job failed", true);
      },
    },
    {
      name: "protocol_error_job",
      description: "Fails with a JSON-RPC (protocol) error: as a task it ends `failed` with `error`; synchronously it is the error response.",
      inputSchema: { type: "object", properties: {} },
      task: "optional",
      work: async (_args, task) => {
        await pause(200, task.signal);
        throw new RpcError(ErrorCode.InternalError, "protocol_error_job: simulated internal failure");
      },
    },
    {
      name: "confirm_delete",
      description: "Asks the client (elicitation) to confirm deleting `filename`: as a task it parks in input_required; without the extension it is an MRTR round.",
      inputSchema: { type: "object", properties: { filename: { type: "string" } }, required: ["filename"] },
      task: "optional",
      gather: async (context) => {
        requireCapabilitiesFor(context.capabilities, [confirmRequest("")]);
        return {};
      },
      work: async (args, task) => {
        const filename = String(args.filename);
        return deletionOutcome(filename, await task.requestInput(confirmRequest(filename), "confirm"));
      },
      call: async (context) => {
        const filename = String(context.args.filename);
        return askSynchronously(context, { confirm: confirmRequest(filename) }, (responses) => deletionOutcome(filename, responses.confirm));
      },
    },
    {
      name: "multi_input",
      description: "Asks two questions in parallel (two elicitations outstanding at once), then completes.",
      inputSchema: { type: "object", properties: {} },
      task: "optional",
      gather: async (context) => {
        requireCapabilitiesFor(context.capabilities, [nameRequest()]);
        return {};
      },
      work: async (_args, task) => {
        const [name, color] = await Promise.all([task.requestInput(nameRequest(), "name"), task.requestInput(colorRequest(), "color")]);
        return multiOutcome(name, color);
      },
      call: async (context) =>
        askSynchronously(context, { name: nameRequest(), color: colorRequest() }, (responses) => multiOutcome(responses.name, responses.color)),
    },
    {
      name: "test_tool_with_task",
      description: "Asks for user_name with an MRTR round, then (task required) answers from a task.",
      inputSchema: { type: "object", properties: {} },
      task: "required",
      gather: async (context) => {
        const request = nameRequest();
        requireCapabilitiesFor(context.capabilities, [request]);
        if (context.requestState !== undefined) {
          const state = context.states.open(context.requestState);
          if (state.tool !== "test_tool_with_task") throw invalidParams("Invalid params: requestState belongs to another request");
        }
        const name = acceptedContent(context.inputResponses?.user_name)?.name;
        if (typeof name !== "string") return inputRequired({ user_name: request }, context.states.seal({ tool: "test_tool_with_task", round: 1 }));
        return { name };
      },
      work: async (_args, task, gathered) => {
        await pause(300, task.signal);
        return textResult(`Hello, ${String(gathered?.name)}! (answered from a task)`);
      },
    },

    // The demo's 2025-11-25 tools, served with 2026-07-28 semantics.
    {
      name: "slow_echo",
      description: "Echoes text after a delay; task-only.",
      inputSchema: { type: "object", properties: { text: { type: "string" }, delayMs: { type: "integer", minimum: 0, maximum: 60_000 } }, required: ["text"] },
      task: "required",
      work: async (args, task) => {
        await pause(Number(args.delayMs ?? 300), task.signal);
        return textResult(String(args.text));
      },
    },
    {
      name: "summarize",
      description: "Summarizes text quickly; works as a plain call or as a task.",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      task: "optional",
      work: async (args) => textResult(`summary: ${String(args.text).slice(0, 80)}`),
    },
    {
      name: "ping_now",
      description: "Answers pong; never a task.",
      inputSchema: { type: "object", properties: {} },
      call: async () => textResult("pong"),
    },
    {
      name: "long_job",
      description: "Works for `seconds`, updating its status message each second, until done or cancelled.",
      inputSchema: { type: "object", properties: { seconds: { type: "number", minimum: 0, maximum: 3600 } } },
      task: "required",
      work: async (args, task) => {
        const seconds = Number(args.seconds ?? 30);
        const deadline = Date.now() + seconds * 1000;
        for (let tick = 1; Date.now() < deadline; tick++) {
          await pause(Math.min(1000, deadline - Date.now()), task.signal);
          if (Date.now() < deadline) task.setStatusMessage(`${tick}s of ${seconds}s`);
        }
        return textResult(`long_job done after ${seconds}s`);
      },
    },
    {
      name: "always_fails",
      description: "A task that always ends with a tool execution error (2026-07-28: completed with result.isError).",
      inputSchema: { type: "object", properties: {} },
      task: "required",
      work: async (_args, task) => {
        await pause(50, task.signal);
        return textResult("always_fails: this tool always fails", true);
      },
    },
  ];
}
