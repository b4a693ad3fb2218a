/**
 * Load generation for the bench Worker: single-connection latency with targets interleaved
 * request by request (A,B,C,A,B,C…), and fixed-concurrency throughput with autocannon,
 * interleaved round by round.
 */
import http from "node:http";
import { createRequire } from "node:module";

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One POST on a kept-alive loopback connection; resolves with status and body text. */
export function post(base, path, body, headers = {}) {
  const url = new URL(path, base);
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers } },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

export async function postJson(base, path, body, headers) {
  const response = await post(base, path, body, headers);
  if (response.status !== 200) throw new Error(`POST ${path}: ${response.status} ${response.body.slice(0, 500)}`);
  return JSON.parse(response.body);
}

/**
 * Latency at concurrency 1: `warmup` then `n` rounds of one request per target, in order.
 * `check(response)` throws when a response is not the expected one (checked on every request).
 * A target with its own `base` is served by another stack (a ref's Worker beside the working tree's).
 */
export async function interleavedLatency(base, targets, { n, warmup }) {
  const latencies = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let i = 0; i < warmup + n; i++) {
    for (const target of targets) {
      const start = process.hrtime.bigint();
      const response = await post(target.base ?? base, target.path, target.body, target.headers);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      target.check(response);
      if (i >= warmup) latencies[target.name].push(ms);
    }
  }
  return latencies;
}

function loadAutocannon(root) {
  try {
    return createRequire(`${root}/package.json`)("autocannon");
  } catch {
    return null;
  }
}

/** A bounded fetch loop with `connections` workers: the fallback when autocannon is absent. */
async function fetchLoop(url, { connections, seconds, headers, body }) {
  const deadline = Date.now() + seconds * 1000;
  let requests = 0;
  let non2xx = 0;
  let errors = 0;
  const latencies = [];
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        const start = process.hrtime.bigint();
        try {
          const response = await fetch(url, { method: "POST", headers, body });
          await response.arrayBuffer();
          if (response.status < 200 || response.status > 299) non2xx++;
          requests++;
          latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  return { requests, seconds: (Date.now() - started) / 1000, non2xx, errors, timeouts: 0, p50: at(50), p99: at(99) };
}

export function throughputTool(root) {
  const autocannon = loadAutocannon(root);
  const name = autocannon ? `autocannon ${createRequire(`${root}/package.json`)("autocannon/package.json").version}` : "fetch loop (undici)";
  async function run(url, { connections, seconds, headers, body }) {
    if (!autocannon) return fetchLoop(url, { connections, seconds, headers, body });
    const result = await autocannon({ url, method: "POST", connections, pipelining: 1, duration: seconds, headers, body });
    return {
      requests: result.requests.total,
      seconds: result.duration,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      p50: result.latency.p50,
      p99: result.latency.p99,
    };
  }
  return { name, run };
}
