/**
 * A CPU profile of the bench Worker's isolate (Worker and Durable Objects share it in workerd)
 * under taskward tasks/get load, over the Chrome DevTools protocol that `wrangler dev` exposes on
 * its inspector port. Writes bench/results/worker-followup.cpuprofile (open it in DevTools) and
 * returns self and inclusive time by function and by module.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { throughputTool } from "./http-load.mjs";

function connect(url) {
  return new Promise((resolve, reject) => {
    // wrangler's inspector proxy wants a loopback Origin (a browser DevTools would send one).
    const socket = new WebSocket(url, { headers: { origin: "http://localhost" } });
    let next = 1;
    const pending = new Map();
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.id && pending.has(message.id)) {
        const { resolve: done, reject: fail } = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) fail(new Error(JSON.stringify(message.error)));
        else done(message.result);
      }
    });
    socket.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)));
    socket.addEventListener("open", () =>
      resolve({
        send(method, params = {}) {
          const id = next++;
          socket.send(JSON.stringify({ id, method, params }));
          return new Promise((res, rej) => pending.set(id, { resolve: res, reject: rej }));
        },
        close: () => socket.close(),
      }),
    );
  });
}

function moduleOf(url, functionName) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native/runtime)";
  if (/jose/.test(url)) return "jose";
  if (/hono/.test(url)) return "hono";
  if (/noble/.test(url)) return "@noble/hashes";
  if (/eventsource-parser/.test(url)) return "eventsource-parser";
  const m = /src\/([a-z]+)\//.exec(url);
  if (m) return `src/${m[1]}`;
  if (/bench\//.test(url)) return "bench worker";
  return url.split("/").slice(-2).join("/");
}

/** Self and inclusive time by function, from a V8 CPU profile. */
export function summarizeProfile(profile, top = 25) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const label = (n) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url ? `${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}` : ""}`.trim();
  const self = new Map();
  const inclusive = new Map();
  const modules = new Map();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = nodes.get(id);
    const name = node.callFrame.functionName;
    total += dt;
    if (name === "(idle)") {
      idle += dt;
      return;
    }
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const mod = moduleOf(node.callFrame.url, name);
    modules.set(mod, (modules.get(mod) ?? 0) + dt);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(nodes.get(cur));
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const pct = (us) => Math.round((us / busy) * 1000) / 10;
  const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: Math.round(us / 1000), pctOfBusy: pct(us) }));
  return { totalMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), selfByModule: sorted(modules), selfByFunction: sorted(self), inclusiveByFunction: sorted(inclusive) };
}

/** Profiles the Worker isolate while `workload()` runs; writes bench/results/<name>.cpuprofile. */
export async function profileDuring(stack, root, name, workload) {
  const targets = await (await fetch(`http://127.0.0.1:${stack.inspectorPort}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error(`no inspector target: ${JSON.stringify(targets)}`);
  const cdp = await connect(target.webSocketDebuggerUrl);
  try {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
    const load = await workload();
    const { profile } = await cdp.send("Profiler.stop");
    const file = `bench/results/${name}.cpuprofile`;
    writeFileSync(join(root, file), JSON.stringify(profile));
    return { load, file, ...summarizeProfile(profile) };
  } finally {
    cdp.close();
  }
}

/** Profiles the isolate under tasks/get load on `path`: taskward's /mcp, or a baseline (/noop/mcp, /bare/mcp) with the same request. */
export async function profileWorker(stack, root, { devToken, createTask, identity, headers, seconds = 6, path = "/mcp", name = "worker-followup" }) {
  const token = await devToken(stack.base, identity);
  const handle = await createTask(stack.base, "/mcp", token);
  const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tasks/get", params: { taskId: handle } });
  const tool = throughputTool(root);
  return profileDuring(stack, root, name, () =>
    tool.run(`${stack.base}${path}`, { connections: 8, seconds, headers: { ...headers, authorization: `Bearer ${token}`, "content-type": "application/json" }, body }),
  );
}
