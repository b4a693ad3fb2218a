/** What the bench ran on: CPU, cores, memory, runtime versions, load. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

function packageVersion(root, name) {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

export function loadAverage() {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

export function machineInfo(root) {
  const cpus = os.cpus();
  const workerd = spawnSync(join(root, "node_modules/.bin/workerd"), ["--version"], { encoding: "utf8" });
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    cpuMHz: cpus[0]?.speed ?? null,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((os.freemem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    workerd: (workerd.stdout || workerd.stderr || "").trim() || null,
    wrangler: packageVersion(root, "wrangler"),
    miniflare: packageVersion(root, "miniflare"),
    jose: packageVersion(root, "jose"),
    hono: packageVersion(root, "hono"),
    autocannon: packageVersion(root, "autocannon"),
  };
}

/** utime+stime (ms) of a process, from /proc; null where /proc is not there. */
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}
