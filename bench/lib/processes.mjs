/**
 * Child processes of the bench, each in its own process group so it is stopped by its group id
 * (never by name): the fake origin and `wrangler dev` with the bench Worker.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export { HOST, freePort, spawnGroup, waitUntil, writeSecretsFile } from "../../scripts/lib/process-group.mjs";

/** Resolves with the first stdout line that parses as JSON (the fake origin's `{"port":N}`). */
export function firstJsonLine(group, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`no JSON line within ${timeoutMs} ms: ${group.output()}`)), timeoutMs);
    group.child.stdout.on("data", (chunk) => {
      buffered += chunk.toString("utf8");
      for (const line of buffered.split("\n")) {
        try {
          const value = JSON.parse(line);
          clearTimeout(timer);
          resolve(value);
          return;
        } catch {
          // not yet
        }
      }
    });
  });
}

/** Command line of a process (Linux /proc), or "" when it is gone. */
export function commandLine(pid) {
  try {
    return readFileSync(join("/proc", String(pid), "cmdline"), "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** PIDs of the processes in process group `pgid` whose command name is `name` (Linux /proc). */
export function groupMembers(pgid, name) {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(join("/proc", entry, "stat"), "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && (name === undefined || comm === name)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
