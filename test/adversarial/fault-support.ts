/** Helpers shared by the adversarial tests (fuzz, faults): calling the Worker, reading the ledger, decoding handles. */
import type { AuditEvent } from "../../src/ledger/audit-chain.js";
import { parseSseMessages } from "../support/sse-messages.js";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { inject } from "vitest";
import { createApp } from "../../src/app.js";
import type { WorkerEnv } from "../../src/config.js";
import { adminFetch, worker } from "../support/mcp-client.js";

/** Same values as test/setup/fault-origin.global.ts (that file runs in Node and cannot be imported here). */
export const FAULT_TASK_PREFIX = "ORIGIN-TASK-";
export const SLOW_MS = 1_500;
export const HANDLE_TYP = "mcp-task-handle+jwt";

export const baseEnv = env as unknown as WorkerEnv;

const envs = new Map<string, WorkerEnv>();
/** The test env with ORIGIN_URL pointing at one fault-origin path (one object per URL, so its config is parsed once). */
export function faultEnv(path: string): WorkerEnv {
  const url = path.startsWith("http") ? path : `${inject("faultOriginUrl")}${path}`;
  let found = envs.get(url);
  if (!found) {
    // One origin, the fault origin: the suite's ORIGINS (two demo origins) does not apply.
    found = { ...baseEnv, ORIGIN_URL: url, ORIGINS: undefined };
    envs.set(url, found);
  }
  return found;
}

export interface Outcome {
  /** The fetch itself rejected (an exception escaped the Worker). */
  thrown?: unknown;
  status: number;
  contentType: string;
  /** The answer's headers (empty when the fetch itself rejected). */
  headers: Headers;
  text: string;
  /** Reading the body failed part-way (a stream that errored rather than ended). */
  streamError?: unknown;
  /** ms from the call until the response headers, and until the body ended. */
  headersAfterMs: number;
  endedAfterMs: number;
  /** ms from the call until the first body chunk. */
  firstChunkAfterMs?: number;
}

/** Drives `createApp().fetch` with an env override (the real Worker code, the real ledger), reading the whole body. */
export async function callApp(targetEnv: WorkerEnv, request: Request): Promise<Outcome> {
  const ctx = createExecutionContext();
  const started = Date.now();
  let response: Response;
  try {
    response = await createApp().fetch(request, targetEnv, ctx);
  } catch (thrown) {
    return { thrown, status: -1, contentType: "", headers: new Headers(), text: "", headersAfterMs: Date.now() - started, endedAfterMs: Date.now() - started };
  }
  const outcome = await readOutcome(response, started);
  await waitOnExecutionContext(ctx);
  return outcome;
}

/** Drives the Worker entry (`exports.default.fetch`), reading the whole body. */
export async function callWorker(request: Request): Promise<Outcome> {
  const started = Date.now();
  let response: Response;
  try {
    response = await worker().fetch(request);
  } catch (thrown) {
    return { thrown, status: -1, contentType: "", headers: new Headers(), text: "", headersAfterMs: Date.now() - started, endedAfterMs: Date.now() - started };
  }
  return readOutcome(response, started);
}

async function readOutcome(response: Response, started: number): Promise<Outcome> {
  const headersAfterMs = Date.now() - started;
  const outcome: Outcome = { status: response.status, contentType: response.headers.get("content-type") ?? "", headers: response.headers, text: "", headersAfterMs, endedAfterMs: 0 };
  if (response.body) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        outcome.firstChunkAfterMs ??= Date.now() - started;
        outcome.text += decoder.decode(value, { stream: true });
      }
      outcome.text += decoder.decode();
    } catch (error) {
      outcome.streamError = error;
    }
  }
  outcome.endedAfterMs = Date.now() - started;
  return outcome;
}

export function mcpRequest(token: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request("https://taskward.test/mcp", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
      "mcp-protocol-version": "2025-11-25",
      ...headers,
    },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

/** Every JSON-RPC message in a body: one JSON object, or each SSE event's data. Throws on anything else. */
export function messagesOf(outcome: Pick<Outcome, "contentType" | "text">): Array<Record<string, any>> {
  if (outcome.contentType.startsWith("text/event-stream")) return parseSseMessages(outcome.text);
  if (outcome.text === "") return [];
  return [JSON.parse(outcome.text)];
}

/** Compact JWS strings whose header says they are task handles. */
export function handlesIn(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g)) {
    const header = decodeSegment(match[0].split(".")[0]!);
    if (header?.typ === HANDLE_TYP) found.add(match[0]);
  }
  return [...found];
}

/** base64url JSON segment → object, or undefined (lenient, like most decoders). */
export function decodeSegment(segment: string): Record<string, any> | undefined {
  try {
    const value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return value && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

export function claimsOf(handle: string): Record<string, any> | undefined {
  return decodeSegment(handle.split(".")[1] ?? "");
}

/** One exported audit event, as the ledger defines it. */
export type AuditRow = AuditEvent;

/** The tenant's whole audit export (NDJSON, following audit-next-cursor). */
export async function auditOf(tenant: string): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  let after = 0;
  for (;;) {
    const response = await adminFetch(`/tenants/${encodeURIComponent(tenant)}/audit?after=${after}&limit=10000`);
    if (response.status !== 200) throw new Error(`audit export of ${tenant}: ${response.status} ${await response.text()}`);
    const text = new TextDecoder().decode(await response.arrayBuffer()); // NDJSON: .text() makes workerd warn
    for (const line of text.split("\n")) if (line.trim()) rows.push(JSON.parse(line));
    const next = response.headers.get("audit-next-cursor");
    if (!next) return rows;
    after = Number(next);
  }
}

export async function verifyAudit(tenant: string): Promise<{ valid: boolean; events: number; brokenAt?: number; problem?: string }> {
  return (await adminFetch(`/tenants/${encodeURIComponent(tenant)}/audit/verify`)).json();
}

/** The ledger's record of one handle, or undefined (404). */
export async function ledgerRecord(tenant: string, jti: string): Promise<Record<string, any> | undefined> {
  const response = await adminFetch(`/tenants/${encodeURIComponent(tenant)}/tasks/${encodeURIComponent(jti)}`);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`ledger record ${tenant}/${jti}: ${response.status}`);
  return response.json();
}

export const FOLLOW_UP_OPS: Record<string, string> = { "tasks/get": "get", "tasks/result": "result", "tasks/cancel": "cancel", "tasks/update": "update" };

/** Sum of `count` over allowed events, per `jti|op`. */
export function allowedCounts(rows: AuditRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) {
    if (row.type !== "allowed" || !row.jti) continue;
    const key = `${row.jti}|${row.op}`;
    counts.set(key, (counts.get(key) ?? 0) + row.count);
  }
  return counts;
}

export async function faultReceived(): Promise<Array<{ at: number; path: string; mode: string; method?: string; id?: unknown; taskId?: string; handle?: string }>> {
  return (await fetch(`${inject("faultOriginUrl")}/__fault/received`)).json();
}

export async function setSwitch(key: string, mode: string): Promise<void> {
  const response = await fetch(`${inject("faultOriginUrl")}/__fault/switch/${key}`, { method: "POST", body: JSON.stringify({ mode }) });
  if (response.status !== 204) throw new Error(`switch ${key}: ${response.status}`);
}

/**
 * A TASK_LEDGER whose stubs reject the named methods (every method when `failing` is "all") and
 * pass the others to the real Durable Object: a ledger that cannot answer, the one fault the real
 * object cannot be made to have.
 */
export function envWithFailingLedger(base: WorkerEnv, failing: string[] | "all"): WorkerEnv {
  const real = base.TASK_LEDGER;
  const namespace = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id) as unknown as Record<string, (...args: unknown[]) => unknown>;
      return new Proxy(
        {},
        {
          get: (_target, prop: string) => (...args: unknown[]) =>
            failing === "all" || failing.includes(prop) ? Promise.reject(new Error(`ledger ${prop} unreachable (injected)`)) : stub[prop]!(...args),
        },
      );
    },
  } as unknown as WorkerEnv["TASK_LEDGER"];
  return { ...base, TASK_LEDGER: namespace };
}

/** A tenant name no other test uses. */
export function uniqueTenant(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}
