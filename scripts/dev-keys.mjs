/**
 * Development signing keys for `npm start` and the e2e tests: plain ESM, so it runs without tsx.
 * (src/handle/keyring.ts has the same generator, but in TypeScript.)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { parseEnv } from "node:util";
import { exportJWK, generateKeyPair } from "jose";

export const DEFAULT_DEV_ADMIN_TOKEN = "dev-admin-token";

/** A fresh private Ed25519 JWK with `kid` and `alg`, as HANDLE_SIGNING_JWKS lists them. */
export async function generateSigningJwk(kid = `dev-${randomUUID().slice(0, 8)}`) {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" };
}

/** The HANDLE_SIGNING_JWKS document `{"keys":[private JWK],"active":kid}`, as a JSON string. */
export async function generateSigningJwks() {
  const jwk = await generateSigningJwk();
  return JSON.stringify({ keys: [jwk], active: jwk.kid });
}

/** The public half of a signing JWKS document, as served at /.well-known/jwks.json. */
export function publicJwksOf(document) {
  const { keys } = JSON.parse(document);
  return { keys: keys.map(({ d: _d, ...pub }) => pub) };
}

/** Throws unless `document` is a usable signing JWKS: keys with kid and alg, an active private key. */
export function assertSigningJwks(document, where) {
  let parsed;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw new Error(`${where}: HANDLE_SIGNING_JWKS is not JSON (is it single-quoted?)`);
  }
  const keys = Array.isArray(parsed?.keys) ? parsed.keys : [];
  const active = parsed?.active ?? keys.find((key) => key.d)?.kid;
  const activeKey = keys.find((key) => key.kid === active);
  if (!activeKey?.d || !activeKey.alg) {
    throw new Error(`${where}: HANDLE_SIGNING_JWKS needs {"keys":[private JWKs with kid and alg],"active":"<kid>"}`);
  }
  return { kid: active, alg: activeKey.alg };
}

/**
 * A dotenv line wrangler reads back verbatim. Single quotes: the dotenv parser neither expands
 * nor unescapes inside them, and JSON and JWKs never contain a single quote.
 */
export function dotenvLine(name, value) {
  if (value.includes("'") || value.includes("\n")) throw new Error(`${name}: value cannot be single-quoted for dotenv`);
  return `${name}='${value}'`;
}

/**
 * Makes sure the dev vars file at `path` holds a signing key and an admin token, adding only what
 * is missing and keeping every other line. Returns what it found or wrote.
 */
export async function ensureDevVars(path, { adminToken = DEFAULT_DEV_ADMIN_TOKEN } = {}) {
  const existing = existsSync(path) ? readFileSync(path, "utf8") : "";
  const vars = parseEnv(existing);
  const added = [];
  let jwks = vars.HANDLE_SIGNING_JWKS;
  if (jwks) {
    assertSigningJwks(jwks, path);
  } else {
    jwks = await generateSigningJwks();
    added.push(dotenvLine("HANDLE_SIGNING_JWKS", jwks));
  }
  if (!vars.ADMIN_TOKEN) added.push(dotenvLine("ADMIN_TOKEN", adminToken));
  if (added.length > 0) {
    const separator = existing === "" || existing.endsWith("\n") ? "" : "\n";
    const header = existing === "" ? "# Local secrets for `wrangler dev` (written by scripts/start.mjs). Never commit.\n" : "";
    writeFileSync(path, `${existing}${separator}${header}${added.join("\n")}\n`, { mode: 0o600 });
  }
  const { kid } = assertSigningJwks(jwks, path);
  return { jwks, kid, adminToken: vars.ADMIN_TOKEN || adminToken, created: !vars.HANDLE_SIGNING_JWKS };
}
