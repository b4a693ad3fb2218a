#!/usr/bin/env node
/**
 * A guided tour of taskward with the official MCP SDK client, against a running `npm start`:
 * dev token → slow_echo task (the taskId is a signed handle) → poll → result → list → another
 * principal is refused → revoke a long_job handle → the owner is refused too.
 *
 *   node scripts/demo-walkthrough.mjs
 *
 * TASKWARD_URL (http://127.0.0.1:8787), ADMIN_TOKEN (dev-admin-token).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";

const BASE = (process.env.TASKWARD_URL ?? `http://127.0.0.1:${process.env.TASKWARD_PORT ?? 8787}`).replace(/\/$/, "");
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "dev-admin-token";
const ALICE = { tenant: "acme", client_id: "demo-cli", sub: "alice" };
const BOB = { tenant: "acme", client_id: "demo-cli", sub: "bob" };

const bold = (text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
let stepNumber = 0;
function step(title) {
  console.log(`\n${bold(`${++stepNumber}. ${title}`)}`);
}
function show(label, value) {
  console.log(`   ${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
}
function shorten(handle) {
  return handle.length > 60 ? `${handle.slice(0, 28)}…${handle.slice(-28)}` : handle;
}

async function devToken(identity) {
  const response = await fetch(`${BASE}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(identity),
  });
  if (!response.ok) throw new Error(`POST /dev/token answered ${response.status}: ${await response.text()}`);
  return (await response.json()).access_token;
}

async function connect(identity) {
  const token = await devToken(identity);
  const client = new Client({ name: "taskward-walkthrough", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

/** Starts a task-augmented tools/call and returns the taskId the client sees as soon as the task exists. */
async function createTask(client, name, args) {
  for await (const message of client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl: 300_000 } })) {
    if (message.type === "taskCreated") return message.task.taskId;
    if (message.type === "error") throw message.error;
  }
  throw new Error("the tools/call ended without creating a task");
}

async function expectRefused(what, call) {
  try {
    await call();
  } catch (error) {
    show(`${what} refused`, error.message);
    return;
  }
  throw new Error(`${what} was NOT refused`);
}

async function main() {
  console.log(`taskward walkthrough against ${BASE}`);

  step("Get a dev bearer token for acme / demo-cli / alice and connect the official SDK client");
  const alice = await connect(ALICE);
  show("connected to", `${BASE}/mcp`);

  step("Call slow_echo as a task: the taskId alice gets is a signed handle, not the origin's id");
  const handle = await createTask(alice, "slow_echo", { text: "hello from taskward", delayMs: 1500 });
  const claims = decodeJwt(handle);
  show("taskId (handle)", shorten(handle));
  show("handle claims (no origin task id: the ledger maps it)", { tenant: claims.tenant, client_id: claims.client_id, sub: claims.sub, tool: claims.tool, ops: claims.ops, exp: claims.exp });

  step("Poll it with tasks/get until it completes");
  let lastStatus;
  for (let poll = 1; ; poll++) {
    const task = await alice.experimental.tasks.getTask(handle);
    if (task.status !== lastStatus) show("status", `${task.status} (poll ${poll})`);
    lastStatus = task.status;
    if (task.status !== "working" && task.status !== "input_required") break;
    await new Promise((resolve) => setTimeout(resolve, task.pollInterval ?? 500));
  }

  step("Fetch its result with tasks/result");
  const result = await alice.experimental.tasks.getTaskResult(handle, CallToolResultSchema);
  show("result", result.content?.[0]?.text ?? result);

  step("List alice's tasks: only her own, each as a handle");
  const { tasks } = await alice.experimental.tasks.listTasks();
  for (const task of tasks) show(task.status.padEnd(9), shorten(task.taskId));

  step("Bob (same tenant and client, another subject) tries alice's handle");
  const bob = await connect(BOB);
  await expectRefused("bob's tasks/get", () => bob.experimental.tasks.getTask(handle));

  step("Start a long_job, then revoke its handle through the admin API");
  const longJob = await createTask(alice, "long_job", { seconds: 60 });
  show("long_job handle", shorten(longJob));
  show("status before revocation", (await alice.experimental.tasks.getTask(longJob)).status);
  const revoke = await fetch(`${BASE}/admin/revocations`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ handle: longJob, reason: "walkthrough" }),
  });
  show(`POST /admin/revocations → ${revoke.status}`, await revoke.json());
  await expectRefused("alice's tasks/get on the revoked handle", () => alice.experimental.tasks.getTask(longJob));

  await Promise.allSettled([alice.close(), bob.close()]);
  console.log(`\n${bold("Done.")} Every refusal above answered like an unknown task; the real reasons are in the audit trail:`);
  console.log(`   curl -s -H 'Authorization: Bearer ${ADMIN_TOKEN}' ${BASE}/admin/tenants/acme/audit`);
}

main().catch((error) => {
  console.error(`\nwalkthrough failed: ${error?.stack ?? error}`);
  console.error(`Is \`npm start\` running and answering at ${BASE}?`);
  process.exit(1);
});
