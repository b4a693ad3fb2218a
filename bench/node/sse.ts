/**
 * Item 4 in Node: SSE rewriting (`rewriteSseStream` + the real `rewriteOutboundMessage` with an
 * in-memory mapper that swaps each origin task id for its handle) against the same bytes through
 * an identity TransformStream.
 *
 *   node --import tsx bench/node/sse.ts throughput <eventsPerRound> <rounds>
 *   node --expose-gc --import tsx bench/node/sse.ts memory <rewrite|reserialize|identity> <events>
 *   node --import tsx bench/node/sse.ts first-byte <n>
 *   node --cpu-prof --import tsx bench/node/sse.ts profile <events>
 *
 * Each prints one JSON document. The input is generated lazily from one ~1000-event block (a
 * pull stream cut into 16 KiB chunks that ignore event boundaries), so the producer holds the
 * same memory whatever the stream length.
 */
import { performance } from "node:perf_hooks";
import { rewriteOutboundMessage, type TaskIdMapper } from "../../src/mcp/rewrite.js";
import { rewriteSseStream } from "../../src/mcp/sse.js";
import { revision20251125 } from "../../src/mcp/revisions/2025-11-25.js";
import type { JsonObject } from "../../src/mcp/envelope.js";

const BLOCK_EVENTS = 1000;
const CHUNK_BYTES = 16 * 1024;
const HANDLE_LENGTH = 615; // an EdDSA handle as minted by the bench (see crypto results)

const encoder = new TextEncoder();
const stamp = "2026-11-24T05:00:00.000Z";

function originId(i: number): string {
  return `origin-task-${i.toString(16).padStart(8, "0")}-1b4d-4c8e-9a0f`;
}

function handleFor(id: string): string {
  const body = `eyJhbGciOiJFZERTQSJ9.${Buffer.from(id).toString("base64url")}.`;
  return (body + "x".repeat(HANDLE_LENGTH)).slice(0, HANDLE_LENGTH);
}

function eventText(seq: number, i: number): string {
  const message = {
    jsonrpc: "2.0",
    method: "notifications/tasks/status",
    params: { taskId: originId(i), status: "working", statusMessage: `step ${seq}`, createdAt: stamp, lastUpdatedAt: stamp, ttl: 600000, pollInterval: 1000 },
  };
  return `id: ${seq}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
}

const block = encoder.encode(Array.from({ length: BLOCK_EVENTS }, (_, i) => eventText(i, i)).join(""));
const handles = new Map(Array.from({ length: BLOCK_EVENTS }, (_, i) => [originId(i), handleFor(originId(i))]));

/** The mapper a GET stream would have, with the ledger replaced by the map above (no I/O). */
function mapper(): TaskIdMapper {
  const observed = new Map<string, string>();
  return {
    mint: () => Promise.reject(new Error("no creation in this stream")),
    resolve: async (ids) => new Map(ids.flatMap((id) => (handles.has(id) ? [[id, handles.get(id)!] as [string, string]] : []))),
    observeStatus: (id, status) => void observed.set(id, status),
    observeDelivery: () => undefined,
    effectiveTtlMs: () => 300_000,
    sealCursor: async (cursor) => cursor,
    knownNames: () => new Map(),
    payloadAllowed: () => true,
    observeWithheld: () => undefined,
  };
}

function rewriter(): (message: JsonObject) => Promise<JsonObject | null> {
  const m = mapper();
  return (message) => rewriteOutboundMessage(message, { requestId: undefined, requestMethod: undefined, mapper: m, module: revision20251125 });
}

/** `blocks` copies of the event block, cut into 16 KiB chunks, generated on demand. */
function source(blocks: number): ReadableStream<Uint8Array> {
  let blockIndex = 0;
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (blockIndex >= blocks) {
          controller.close();
          return;
        }
        const end = Math.min(block.length, offset + CHUNK_BYTES);
        controller.enqueue(block.subarray(offset, end));
        offset = end;
        if (offset >= block.length) {
          offset = 0;
          blockIndex++;
        }
      },
    },
    { highWaterMark: 4 },
  );
}

type Kind = "rewrite" | "reserialize" | "identity";

/**
 * rewrite: what taskward does. reserialize: the same SSE parse → JSON.parse → JSON.stringify →
 * serialize with a rewriter that returns the message untouched (attribution: the cost of
 * touching every event at all). identity: bytes through untouched (the brief's baseline).
 */
function transformFor(kind: Kind): TransformStream<Uint8Array, Uint8Array> {
  if (kind === "rewrite") return rewriteSseStream(rewriter());
  if (kind === "reserialize") return rewriteSseStream(async (message) => message);
  return new TransformStream<Uint8Array, Uint8Array>();
}

interface Sample {
  heapUsed: number;
  rss: number;
}

/** Pipes `events` events through the transform, reading everything; samples memory every 64 reads. */
async function pump(kind: Kind, events: number, sample?: (s: Sample) => void): Promise<{ ms: number; bytesIn: number; bytesOut: number }> {
  const blocks = Math.ceil(events / BLOCK_EVENTS);
  const reader = source(blocks).pipeThrough(transformFor(kind)).getReader();
  let bytesOut = 0;
  let reads = 0;
  const start = performance.now();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytesOut += value.byteLength;
    if (sample && ++reads % 64 === 0) {
      const usage = process.memoryUsage();
      sample({ heapUsed: usage.heapUsed, rss: usage.rss });
    }
  }
  return { ms: performance.now() - start, bytesIn: blocks * block.length, bytesOut };
}

async function throughput(eventsPerRound: number, rounds: number): Promise<unknown> {
  const kinds = ["identity", "reserialize", "rewrite"] as const;
  for (const kind of kinds) await pump(kind, 5_000);
  const fresh = () => ({ events: 0, ms: 0, bytesIn: 0, bytesOut: 0, rounds: [] as number[] });
  const totals = { rewrite: fresh(), reserialize: fresh(), identity: fresh() };
  const pairedRatios: number[] = [];
  const pairedVsReserialize: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const perRound: Record<string, number> = {};
    for (const kind of kinds) {
      const run = await pump(kind, eventsPerRound);
      const events = Math.ceil(eventsPerRound / BLOCK_EVENTS) * BLOCK_EVENTS;
      const entry = totals[kind];
      entry.events += events;
      entry.ms += run.ms;
      entry.bytesIn += run.bytesIn;
      entry.bytesOut += run.bytesOut;
      perRound[kind] = (events / run.ms) * 1000;
      entry.rounds.push(Math.round(perRound[kind]!));
    }
    pairedRatios.push(perRound.rewrite! / perRound.identity!);
    pairedVsReserialize.push(perRound.rewrite! / perRound.reserialize!);
  }
  const summary = (entry: (typeof totals)["rewrite"]) => ({
    events: entry.events,
    ms: Math.round(entry.ms),
    eventsPerSec: Math.round((entry.events / entry.ms) * 1000),
    mbPerSecIn: Math.round((entry.bytesIn / 1e6 / (entry.ms / 1000)) * 10) / 10,
    mbPerSecOut: Math.round((entry.bytesOut / 1e6 / (entry.ms / 1000)) * 10) / 10,
    roundEventsPerSec: entry.rounds,
  });
  return {
    eventBytesIn: Math.round(block.length / BLOCK_EVENTS),
    rewrite: summary(totals.rewrite),
    reserialize: summary(totals.reserialize),
    identity: summary(totals.identity),
    pairedRatios: pairedRatios.map((r) => Math.round(r * 10000) / 10000),
    pairedVsReserialize: pairedVsReserialize.map((r) => Math.round(r * 10000) / 10000),
  };
}

async function memory(kind: Kind, events: number): Promise<unknown> {
  const gc = (globalThis as { gc?: () => void }).gc;
  await pump(kind, 2_000);
  gc?.();
  const before = process.memoryUsage();
  let peakHeap = before.heapUsed;
  let peakRss = before.rss;
  let samples = 0;
  const run = await pump(kind, events, (s) => {
    samples++;
    if (s.heapUsed > peakHeap) peakHeap = s.heapUsed;
    if (s.rss > peakRss) peakRss = s.rss;
  });
  gc?.();
  const after = process.memoryUsage();
  const mib = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
  return {
    kind,
    events: Math.ceil(events / BLOCK_EVENTS) * BLOCK_EVENTS,
    ms: Math.round(run.ms),
    samples,
    heapUsedBeforeMiB: mib(before.heapUsed),
    peakHeapUsedMiB: mib(peakHeap),
    heapUsedAfterGcMiB: mib(after.heapUsed),
    rssBeforeMiB: mib(before.rss),
    peakRssMiB: mib(peakRss),
    gcExposed: gc !== undefined,
  };
}

/** Time from writing one event into the transform to reading its (rewritten) bytes. */
async function firstByte(n: number): Promise<unknown> {
  const events = Array.from({ length: 100 }, (_, i) => encoder.encode(eventText(i, i)));
  const lanes = (["identity", "reserialize", "rewrite"] as const).map((kind) => {
    const transform = transformFor(kind);
    return { kind, writer: transform.writable.getWriter(), reader: transform.readable.getReader(), latencies: [] as number[] };
  });
  for (let i = 0; i < n + 200; i++) {
    for (const lane of lanes) {
      const start = performance.now();
      void lane.writer.write(events[i % events.length]!);
      const { value } = await lane.reader.read();
      const elapsed = performance.now() - start;
      if (!value || value.byteLength === 0) throw new Error("no bytes");
      if (i >= 200) lane.latencies.push(elapsed * 1000);
    }
  }
  const result: Record<string, unknown> = {};
  for (const lane of lanes) {
    const sorted = Float64Array.from(lane.latencies).sort();
    const at = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10;
    result[lane.kind] = { n: sorted.length, medianUs: at(50), p99Us: at(99) };
    await lane.writer.close();
  }
  return result;
}

const [mode, a, b] = process.argv.slice(2);
let output: unknown;
if (mode === "throughput") output = await throughput(Number(a ?? 50_000), Number(b ?? 4));
else if (mode === "memory") output = await memory((a ?? "rewrite") as Kind, Number(b ?? 100_000));
else if (mode === "first-byte") output = await firstByte(Number(a ?? 2_000));
else if (mode === "profile") output = await pump("rewrite", Number(a ?? 200_000)); // the workload for node --cpu-prof
else throw new Error(`unknown mode ${mode}`);
process.stdout.write(`${JSON.stringify(output)}\n`);
