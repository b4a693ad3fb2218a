#!/usr/bin/env node
/**
 * A fast fake origin MCP server for the bench: answers JSON-RPC at once, so what is measured is
 * the edge, not an SDK origin. tools/call with params.task → CreateTaskResult; tasks/get → the
 * Task; tasks/list → a page of the LIST_SIZE tasks `list-task-0…`; anything else → {}.
 * Prints `{"port":N}` on stdout when listening on 127.0.0.1. Run as its own process so its
 * event loop does not share the load generator's.
 */
import { createServer } from "node:http";

const LIST_SIZE = Number(process.env.LIST_SIZE ?? 100);
let created = 0;
let stamp = new Date().toISOString();
setInterval(() => (stamp = new Date().toISOString()), 1000).unref();

function task(taskId, ttl = 600_000) {
  return { taskId, status: "working", createdAt: stamp, lastUpdatedAt: stamp, ttl, pollInterval: 1000 };
}

function answer(message) {
  const params = message.params ?? {};
  switch (message.method) {
    case "tools/call":
      if (params.task) return { task: task(`origin-task-${++created}`, typeof params.task.ttl === "number" ? params.task.ttl : 600_000) };
      return { content: [{ type: "text", text: "ok" }] };
    case "tasks/get":
      return task(params.taskId);
    case "tasks/list":
      return { tasks: Array.from({ length: LIST_SIZE }, (_, i) => task(`list-task-${i}`)) };
    default:
      return {};
  }
}

const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    let message;
    try {
      message = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      response.writeHead(400).end();
      return;
    }
    const body = JSON.stringify({ jsonrpc: "2.0", id: message.id ?? null, result: answer(message) });
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    response.end(body);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
