/** Real processes for the e2e tests: free ports, `wrangler dev` as its own process group, clean stops. */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HOST, spawnGroup, waitUntil, type GroupProcess } from "../../../scripts/lib/process-group.mjs";

export { HOST, freePort, portIsFree, spawnGroup, waitForPortFree, waitUntil, writeSecretsFile, type GroupProcess } from "../../../scripts/lib/process-group.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const READY_TIMEOUT_MS = 90_000;

export interface AuthorityOptions {
  port: number;
  originUrl: string;
  persistTo: string;
  /** Dotenv file with HANDLE_SIGNING_JWKS and ADMIN_TOKEN. */
  secretsFile: string;
  /** The kid the authority must serve before it counts as ready. */
  kid: string;
  /** Extra `--var NAME:value` settings (e.g. ORIGIN_ASSERTION_TTL_SECONDS). */
  vars?: Record<string, string>;
}

export interface Authority extends GroupProcess {
  url: string;
}

/**
 * `wrangler dev --env dev` on loopback. Secrets come from --env-file, which also keeps wrangler
 * from reading a developer's .dev.vars; the URLs that depend on the ports come from --var.
 */
export async function startAuthority(options: AuthorityOptions): Promise<Authority> {
  const url = `http://${HOST}:${options.port}`;
  const wrangler = spawnGroup(
    process.execPath,
    [
      WRANGLER, "dev", "--env", "dev",
      "--ip", HOST, "--port", String(options.port),
      "--persist-to", options.persistTo,
      "--env-file", options.secretsFile,
      "--var", `TASKWARD_ISSUER:${url}`,
      "--var", `ORIGIN_URL:${options.originUrl}`,
      ...Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      "--show-interactive-dev-session=false",
    ],
    { cwd: ROOT, env: { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" }, label: "wrangler dev" },
  );
  try {
    await waitUntil(`${url}/.well-known/jwks.json`, (response, body) => response.status === 200 && body.includes(`"${options.kid}"`), wrangler, READY_TIMEOUT_MS);
  } catch (error) {
    await wrangler.stop();
    throw error;
  }
  return { ...wrangler, url };
}
