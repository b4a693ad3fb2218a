import { readFile } from "node:fs/promises";
import { generateSigningJwk } from "../handle/keyring.js";
import { HANDLE_ALGORITHMS, type HandleAlgorithm } from "../handle/claims.js";
import { UsageError, type CommandOutput } from "./output.js";

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

/** `keys generate`: a new signing document with one active key. */
export async function generateKeys(options: { alg?: string; kid?: string }): Promise<CommandOutput> {
  const jwk = await generateSigningJwk(algorithmOf(options.alg), options.kid);
  return { stdout: JSON.stringify({ keys: [jwk], active: jwk.kid }), stderr: SECRET_HINT };
}

/**
 * `keys rotate`: adds a fresh key and makes it active; old keys stay listed so handles they
 * signed keep verifying. Retire them after the longest handle TTL.
 */
export async function rotateKeys(options: { file?: string; alg?: string }): Promise<CommandOutput> {
  const document = await readDocument(options.file);
  const jwk = await generateSigningJwk(algorithmOf(options.alg));
  const previous = document.active;
  return {
    stdout: JSON.stringify({ keys: [...document.keys, jwk], active: jwk.kid }),
    stderr: `${SECRET_HINT}\nNew active key ${jwk.kid}; ${previous ?? "the old key"} still verifies. Retire it (keys retire --kid ${previous}) after the longest handle TTL (MAX_TASK_TTL_SECONDS).`,
  };
}

/** `keys retire`: removes a verification key; the active one cannot be removed. */
export async function retireKey(options: { file?: string; kid?: string }): Promise<CommandOutput> {
  const document = await readDocument(options.file);
  if (!options.kid) throw new UsageError("--kid is required");
  if (options.kid === document.active) throw new UsageError(`${options.kid} is the active key; rotate first`);
  const keys = document.keys.filter((key) => key.kid !== options.kid);
  if (keys.length === document.keys.length) throw new UsageError(`no key with kid ${options.kid} in ${options.file}`);
  return { stdout: JSON.stringify({ keys, active: document.active }), stderr: `${SECRET_HINT}\nRemoved ${options.kid}; handles it signed no longer verify.` };
}
