import { readFile } from "node:fs/promises";
import { generateSigningJwk } from "../handle/keyring.js";
import { HANDLE_ALGORITHMS, type HandleAlgorithm } from "../handle/claims.js";
import { UsageError, type CommandOutput } from "./output.js";
import { writePrivateFile } from "./secret-files.js";

interface SigningDocument {
  keys: Array<Record<string, unknown> & { kid?: string }>;
  active?: string;
}

function algorithmOf(value: string | undefined): HandleAlgorithm {
  const alg = value ?? "EdDSA";
  if (!(HANDLE_ALGORITHMS as readonly string[]).includes(alg)) throw new UsageError(`--alg must be one of ${HANDLE_ALGORITHMS.join(", ")}`);
  return alg as HandleAlgorithm;
}

async function readDocument(path: string | undefined): Promise<SigningDocument> {
  if (!path) throw new UsageError("--file is required: the current HANDLE_SIGNING_JWKS document");
  const document = JSON.parse(await readFile(path, "utf8")) as SigningDocument;
  if (!Array.isArray(document.keys)) throw new UsageError(`${path} has no "keys" array`);
  return document;
}

const SECRET_HINT = "Store it with: npx wrangler secret put HANDLE_SIGNING_JWKS  (paste the JSON above)";

/** A private signing document goes to --out (mode 0600) or stdout. */
async function emit(document: object, out: string | undefined, stderr: string): Promise<CommandOutput> {
  const json = JSON.stringify(document);
  if (!out) return { stdout: json, stderr };
  await writePrivateFile(out, json);
  return { stderr: `${stderr.replace("(paste the JSON above)", `< ${out}`)}\nWritten to ${out} (mode 0600).` };
}

/** `keys generate`: a new signing document with one active key. */
export async function generateKeys(options: { alg?: string; kid?: string; out?: string }): Promise<CommandOutput> {
  const jwk = await generateSigningJwk(algorithmOf(options.alg), options.kid);
  return emit({ keys: [jwk], active: jwk.kid }, options.out, SECRET_HINT);
}

/**
 * `keys rotate`: adds a fresh key and makes it active; old keys stay listed so handles they
 * signed keep verifying. Retire them after the longest handle TTL.
 */
export async function rotateKeys(options: { file?: string; alg?: string; out?: string }): Promise<CommandOutput> {
  const document = await readDocument(options.file);
  const jwk = await generateSigningJwk(algorithmOf(options.alg));
  const previous = document.active;
  return emit(
    { keys: [...document.keys, jwk], active: jwk.kid },
    options.out,
    `${SECRET_HINT}\nNew active key ${jwk.kid}; ${previous ?? "the old key"} still verifies. Retire it (keys retire --kid ${previous}) after the longest handle TTL (MAX_TASK_TTL_SECONDS).`,
  );
}

/** `keys retire`: removes a verification key; the active one cannot be removed. */
export async function retireKey(options: { file?: string; kid?: string; out?: string }): Promise<CommandOutput> {
  const document = await readDocument(options.file);
  if (!options.kid) throw new UsageError("--kid is required");
  if (options.kid === document.active) throw new UsageError(`${options.kid} is the active key; rotate first`);
  const keys = document.keys.filter((key) => key.kid !== options.kid);
  if (keys.length === document.keys.length) throw new UsageError(`no key with kid ${options.kid} in ${options.file}`);
  return emit({ keys, active: document.active }, options.out, `${SECRET_HINT}\nRemoved ${options.kid}; handles it signed no longer verify.`);
}
