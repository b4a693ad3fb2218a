import { parseArgs } from "node:util";
import { generateKeys, retireKey, rotateKeys } from "./keys.js";
import { auditCheckpoint, devOperatorToken, devToken, exportAudit, listTasks, revoke, verifyAudit } from "./operations.js";
import { RemoteError, UsageError, type CommandOutput } from "./output.js";

export const USAGE = `taskward — operator CLI for the taskward MCP task-handle authority

Usage:
  taskward keys generate [--alg EdDSA|ES256] [--kid KID] [--out FILE]   new HANDLE_SIGNING_JWKS document
  taskward keys rotate --file CURRENT.json [--alg ALG] [--out FILE]      add a key and make it active
  taskward keys retire --file CURRENT.json --kid KID [--out FILE]        remove a retired verification key
  taskward revoke --handle HANDLE [--reason R] [--cancel]
  taskward revoke --tenant T (--jti J | --task ID | --client C | --sub S | --all) [--reason R] [--cancel]
  taskward tasks --tenant T [--client C] [--sub S] [--limit N] [--json]
  taskward audit export --tenant T [--format chain|ocsf] [--out FILE]
  taskward audit checkpoint --tenant T [--shard N] [--out FILE]   a signed checkpoint of one shard's chain head, kept for later
  taskward audit verify (--file FILE | --tenant T) [--jwks JWKS.json] [--checkpoint FILE]...
  taskward dev-token --tenant T --client C --sub S
  taskward operator-token --sub S --roles R[,R…] --tenants T[,T…]|'*'   (dev mode only)

Remote commands take --url URL (or TASKWARD_URL) and the admin token from TASKWARD_ADMIN_TOKEN or
--admin-token-file FILE (--admin-token TOKEN still works but is visible to other users: it warns):
an operator token (its roles decide what it may do), or the break-glass ADMIN_TOKEN.
--cancel also stops every affected in-flight task at the origin (needs taskward:cancel).
Files written with --out (keys, exports, checkpoints) are created with mode 0600.
Exit codes: 0 done, 1 refused or failed (including a broken audit chain), 2 usage error.`;

const OPTIONS = {
  alg: { type: "string" },
  kid: { type: "string" },
  file: { type: "string" },
  url: { type: "string" },
  "admin-token": { type: "string" },
  "admin-token-file": { type: "string" },
  jwks: { type: "string" },
  checkpoint: { type: "string", multiple: true },
  handle: { type: "string" },
  tenant: { type: "string" },
  jti: { type: "string" },
  task: { type: "string" },
  client: { type: "string" },
  sub: { type: "string" },
  all: { type: "boolean" },
  reason: { type: "string" },
  limit: { type: "string" },
  json: { type: "boolean" },
  out: { type: "string" },
  cancel: { type: "boolean" },
  format: { type: "string" },
  roles: { type: "string" },
  tenants: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Command = (options: Record<string, string | string[] | boolean | undefined>) => Promise<CommandOutput>;

const ARGV_TOKEN_WARNING = "warning: --admin-token puts the token in process lists and shell history; prefer TASKWARD_ADMIN_TOKEN or --admin-token-file";

const COMMANDS: Record<string, Command> = {
  "keys generate": generateKeys,
  "keys rotate": rotateKeys,
  "keys retire": retireKey,
  revoke,
  tasks: listTasks,
  "audit export": exportAudit,
  "audit verify": verifyAudit,
  "audit checkpoint": auditCheckpoint,
  "dev-token": devToken,
  "operator-token": devOperatorToken,
};

/** Runs one CLI invocation; never exits the process itself, so it can be tested. */
export async function runCli(argv: string[]): Promise<Required<CommandOutput>> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return { stdout: "", stderr: `${(error as Error).message}\n\n${USAGE}`, exitCode: 2 };
  }
  const [first, second] = parsed.positionals;
  if (parsed.values.help || !first) return { stdout: USAGE, stderr: "", exitCode: first || parsed.values.help ? 0 : 2 };
  const name = COMMANDS[`${first} ${second}`] ? `${first} ${second}` : first;
  const command = COMMANDS[name];
  if (!command) return { stdout: "", stderr: `unknown command: ${parsed.positionals.join(" ")}\n\n${USAGE}`, exitCode: 2 };
  try {
    const output = await command(parsed.values);
    const warning = parsed.values["admin-token"] !== undefined ? `${ARGV_TOKEN_WARNING}\n` : "";
    return { stdout: output.stdout ?? "", stderr: warning + (output.stderr ?? ""), exitCode: output.exitCode ?? 0 };
  } catch (error) {
    if (error instanceof UsageError) return { stdout: "", stderr: `${error.message}\n\n${USAGE}`, exitCode: 2 };
    if (error instanceof RemoteError) return { stdout: "", stderr: error.message, exitCode: 1 };
    return { stdout: "", stderr: `error: ${(error as Error).message}`, exitCode: 1 };
  }
}
