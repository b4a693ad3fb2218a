import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the fault origin, e.g. http://127.0.0.1:40123 (no path). */
    faultOriginUrl: string;
    /** An MCP URL on a loopback port nobody listens on (connection refused). */
    closedOriginUrl: string;
    /** A test authorization server's private signing key (JWK, ES256); its public JWKS is GET /__oauth/jwks.json. */
    oauthPrivateJwk: string;
  }
}

/**
 * A misbehaving MCP origin for test/adversarial/faults.test.ts. The first path segment picks the
 * behaviour, the rest is free (a scenario key, so each scenario has its own ORIGIN_URL and so its
 * own handle audience and state):
 *
 *   /ok/…                 a tiny fake MCP server answering in JSON (tools/call with params.task
 *                         creates a task `ORIGIN-TASK-<uuid>`; tasks/get|result|cancel|list answer it)
 *   /ok-sse/…             the same, each answer as an SSE stream (a related-task notification first)
 *   /down/…               destroys the socket as soon as the request arrives
 *   /slow/…               answers like /ok after SLOW_MS
 *   /slow-sse/…           sends the SSE headers and a first event at once, the answer SLOW_MS later
 *   /garbage/…            200, content-type application/json, a body that is not JSON
 *   /garbage-html/…       200, content-type text/html
 *   /empty-json/…         200, content-type application/json, empty body
 *   /batch/…              200, a JSON array
 *   /truncated-json/…     200, content-length 4096, 40 bytes of JSON, then the socket is destroyed
 *   /bad-sse/…            a malformed SSE stream (non-JSON data naming an origin id, arrays, bad
 *                         retry, junk lines) that still ends properly; the request's answer last
 *   /disconnect/…         SSE headers and one event about an origin task, then the socket is destroyed
 *   /5xx/…                503 with a JSON-RPC error naming the origin task id
 *   /5xx-text/…           503 text/plain naming the origin task id
 *   /redirect/…           307 to /ok/redirect-target (must not be followed)
 *   /create-then-die/…    the first tools/call gets a valid CreateTaskResult; everything after
 *                         that on the same path has its socket destroyed
 *   /sse-create-then-die/… tools/call gets SSE headers and the CreateTaskResult event, then the
 *                         socket is destroyed (no end of stream)
 *   /server-requests/…    a tools/call without params.task is answered with an SSE stream: two
 *                         origin→client requests naming `arguments.taskId` (elicitation/create with
 *                         it as related-task, id "srv-related"; a request with params.taskId, id
 *                         "srv-direct"), then the answer
 *   /other-task/…         follow-ups (tasks/get, tasks/cancel) are answered, in JSON, about another
 *                         origin task than the one asked for
 *   /negotiate/…          like /ok, but initialize opens a session (Mcp-Session-Id) and answers
 *                         protocolVersion 2025-06-18 whatever the client asked for
 *   /switch/<key>         behaves as the mode last set with POST /__fault/switch/<key> {"mode"}
 *                         (default "ok"), so one task can meet several faults under one audience
 *
 * Every request that reaches an MCP path is logged: GET /__fault/received. GET /__oauth/jwks.json
 * serves the public key of a test authorization server (OAuth access tokens in test/pinned).
 */
export const FAULT_TASK_PREFIX = "ORIGIN-TASK-";
export const SLOW_MS = 1_500;

interface Received {
  at: number;
  path: string;
  mode: string;
  method?: string;
  id?: unknown;
  taskId?: string;
  handle?: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parse(body: string): Record<string, any> {
  try {
    const value = JSON.parse(body);
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

const RELATED = "io.modelcontextprotocol/related-task";

/** The fake MCP server's answer to one message (undefined for notifications and responses: 202). */
function answer(message: Record<string, any>, tasks: Map<string, string>): Record<string, unknown> | undefined {
  if (typeof message.method !== "string" || !("id" in message)) return undefined;
  const id = message.id;
  const params = (message.params ?? {}) as Record<string, any>;
  const now = new Date().toISOString();
  const taskObject = (taskId: string) => ({ taskId, status: tasks.get(taskId) ?? "working", createdAt: now, lastUpdatedAt: now, ttl: 60_000, pollInterval: 100 });
  switch (message.method) {
    case "initialize":
      return { jsonrpc: "2.0", id, result: { protocolVersion: "2025-11-25", capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, serverInfo: { name: "fault-origin", version: "0" } } };
    case "tools/call": {
      if (params.task === undefined) return { jsonrpc: "2.0", id, result: { content: [{ type: "text", text: "immediate" }] } };
      const taskId = `${FAULT_TASK_PREFIX}${randomUUID()}`;
      tasks.set(taskId, "working");
      return { jsonrpc: "2.0", id, result: { task: taskObject(taskId) } };
    }
    case "tasks/get":
      return { jsonrpc: "2.0", id, result: taskObject(String(params.taskId)) };
    case "tasks/cancel":
      tasks.set(String(params.taskId), "cancelled");
      return { jsonrpc: "2.0", id, result: taskObject(String(params.taskId)) };
    case "tasks/result":
      tasks.set(String(params.taskId), "completed");
      return { jsonrpc: "2.0", id, result: { content: [{ type: "text", text: "done" }], _meta: { [RELATED]: { taskId: params.taskId } } } };
    case "tasks/list":
      return { jsonrpc: "2.0", id, result: { tasks: [...tasks.keys()].map(taskObject) } };
    default:
      return { jsonrpc: "2.0", id, result: {} };
  }
}

function sseEvent(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const received: Received[] = [];
  const tasks = new Map<string, string>();
  const switches = new Map<string, string>();
  const createdOn = new Set<string>();
  const oauthKeys = await generateKeyPair("ES256", { extractable: true });
  const oauthPublicJwk = { ...(await exportJWK(oauthKeys.publicKey)), kid: "as-1", alg: "ES256", use: "sig" };
  const oauthPrivateJwk = { ...(await exportJWK(oauthKeys.privateKey)), kid: "as-1", alg: "ES256" };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fault");
    if (url.pathname === "/__oauth/jwks.json") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [oauthPublicJwk] }));
      return;
    }
    if (url.pathname === "/__fault/received") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received));
      return;
    }
    const switchMatch = /^\/__fault\/switch\/(.+)$/.exec(url.pathname);
    if (switchMatch && req.method === "POST") {
      switches.set(switchMatch[1]!, String(parse(await readBody(req)).mode ?? "ok"));
      res.writeHead(204).end();
      return;
    }
    const segments = url.pathname.split("/").filter(Boolean);
    let mode = segments[0] ?? "";
    if (mode === "switch") mode = switches.get(segments.slice(1).join("/")) ?? "ok";
    const body = req.method === "POST" ? await readBody(req) : "";
    const message = parse(body);
    const params = (message.params ?? {}) as Record<string, any>;
    const handle = req.headers["taskward-task-handle"];
    received.push({
      at: Date.now(),
      path: url.pathname,
      mode,
      ...(typeof message.method === "string" ? { method: message.method } : {}),
      ...("id" in message ? { id: message.id } : {}),
      ...(typeof params.taskId === "string" ? { taskId: params.taskId } : {}),
      ...(typeof handle === "string" ? { handle } : {}),
    });
    const originTask = typeof params.taskId === "string" ? params.taskId : `${FAULT_TASK_PREFIX}${randomUUID()}`;
    const json = (status: number, value: unknown): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    const ok = () => {
      const reply = answer(message, tasks);
      if (reply === undefined) res.writeHead(202).end();
      else json(200, reply);
    };

    switch (mode) {
      case "ok":
        return ok();
      case "negotiate": {
        if (message.method !== "initialize") return ok();
        const reply = answer(message, tasks) as { result: Record<string, unknown> };
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": `fault-session-${randomUUID()}` });
        res.end(JSON.stringify({ ...reply, result: { ...reply.result, protocolVersion: "2025-06-18" } }));
        return;
      }
      case "ok-sse": {
        const reply = answer(message, tasks);
        if (reply === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        if (typeof params.taskId === "string") {
          res.write(sseEvent({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { taskId: params.taskId, status: "working", createdAt: new Date().toISOString(), lastUpdatedAt: new Date().toISOString(), ttl: 60_000 } }));
        }
        res.end(sseEvent(reply));
        return;
      }
      case "down":
      case "create-then-die":
        if (mode === "create-then-die" && message.method === "tools/call" && !createdOn.has(url.pathname)) {
          createdOn.add(url.pathname);
          return ok();
        }
        req.socket.destroy();
        return;
      case "slow":
        await sleep(SLOW_MS);
        return ok();
      case "slow-sse": {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write(sseEvent({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "started" } }));
        await sleep(SLOW_MS);
        const reply = answer(message, tasks);
        res.end(reply ? sseEvent(reply) : "");
        return;
      }
      case "garbage":
        res.writeHead(200, { "content-type": "application/json" }).end(`<html>oops ${originTask} {"jsonrpc":`);
        return;
      case "garbage-html":
        res.writeHead(200, { "content-type": "text/html" }).end(`<html><body>task ${originTask}</body></html>`);
        return;
      case "empty-json":
        res.writeHead(200, { "content-type": "application/json" }).end();
        return;
      case "batch":
        return json(200, [{ jsonrpc: "2.0", id: message.id ?? null, result: { taskId: originTask } }]);
      case "truncated-json":
        res.writeHead(200, { "content-type": "application/json", "content-length": "4096" });
        res.write(`{"jsonrpc":"2.0","id":${JSON.stringify(message.id ?? null)},"result":{"taskId":"${originTask}"`.slice(0, 40));
        setTimeout(() => req.socket.destroy(), 20);
        return;
      case "bad-sse": {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`: a comment\n\n`);
        res.write(`data: not json, but it names ${originTask}\n\n`);
        res.write(`data: ["${originTask}"]\n\n`);
        res.write(`data: 42\n\n`);
        res.write(`retry: soon\n\n`);
        res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"${FAULT_TASK_PREFIX}unowned-${randomUUID()}","status":"working"}}\n\n`);
        res.write(`data: {"jsonrpc":"2.0",\ndata: "half": \n\n`);
        res.write(`id\u0000: x\nfield without colon\n:\n\n`);
        res.write(`data: {"jsonrpc":"2.0","method":"notifications/message","params":{"_meta":{"${RELATED}":{"taskId":"${FAULT_TASK_PREFIX}unowned-${randomUUID()}"}}}}\n\n`);
        const reply = answer(message, tasks);
        res.end(reply ? sseEvent(reply) : "data: {\"unterminated\": true");
        return;
      }
      case "disconnect":
      case "sse-create-then-die": {
        res.writeHead(200, { "content-type": "text/event-stream" });
        if (mode === "sse-create-then-die" && message.method === "tools/call") {
          res.write(sseEvent(answer(message, tasks)));
        } else {
          res.write(sseEvent({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { taskId: originTask, status: "working", createdAt: new Date().toISOString(), lastUpdatedAt: new Date().toISOString(), ttl: 60_000 } }));
          res.write(`data: {"jsonrpc":"2.0","id":${JSON.stringify(message.id ?? null)},"result":{"taskId":"${originTask}",`);
        }
        setTimeout(() => req.socket.destroy(), 50);
        return;
      }
      case "other-task": {
        if (message.method !== "tasks/get" && message.method !== "tasks/cancel") return ok();
        const other = `${FAULT_TASK_PREFIX}other-${randomUUID()}`;
        return json(200, { jsonrpc: "2.0", id: message.id, result: { taskId: other, status: "working", createdAt: new Date().toISOString(), lastUpdatedAt: new Date().toISOString(), ttl: 60_000 } });
      }
      case "server-requests": {
        const named = params.arguments?.taskId;
        if (message.method !== "tools/call" || params.task !== undefined || typeof named !== "string") return ok();
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write(sseEvent({ jsonrpc: "2.0", id: "srv-related", method: "elicitation/create", params: { mode: "form", message: "about a task", requestedSchema: { type: "object", properties: {} }, _meta: { [RELATED]: { taskId: named } } } }));
        res.write(sseEvent({ jsonrpc: "2.0", id: "srv-direct", method: "tasks/get", params: { taskId: named } }));
        res.end(sseEvent({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: "asked" }] } }));
        return;
      }
      case "5xx":
        return json(503, { jsonrpc: "2.0", id: message.id ?? null, error: { code: -32603, message: `Task ${originTask} is unavailable` } });
      case "5xx-text":
        res.writeHead(503, { "content-type": "text/plain" }).end(`Service Unavailable: task ${originTask} is stuck`);
        return;
      case "redirect":
        res.writeHead(307, { location: `http://${req.headers.host}/ok/redirect-target` }).end();
        return;
      default:
        res.writeHead(404, { "content-type": "text/plain" }).end(`no fault mode ${mode}`);
    }
  }

  const server: Server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
      else res.destroy();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
  // A port that was free a moment ago and that nothing here listens on: connection refused.
  const closedPort = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  project.provide("faultOriginUrl", `http://127.0.0.1:${port}`);
  project.provide("closedOriginUrl", `http://127.0.0.1:${closedPort}/mcp`);
  project.provide("oauthPrivateJwk", JSON.stringify(oauthPrivateJwk));
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
