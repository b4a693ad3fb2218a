import { base64url } from "jose";
import { configFor, type Config, type WorkerEnv } from "../config.js";
import { equalInConstantTime } from "../constant-time.js";
import { shardLedger } from "../ledger/ledger-client.js";
import type { ApiKeyRecord } from "../ledger/types.js";
import type { Principal } from "./principal.js";

/**
 * API keys look like `twk_<tenant, base64url>.<id>.<secret>.<mac>`: the tenant routes to its
 * ledger, the id finds the record, the secret is checked against its SHA-256, and the MAC
 * (HMAC-SHA256 under the server's API-key secret over everything before it) proves this
 * authority minted the key — checked first, so a forged key never reaches any ledger.
 */
const API_KEY = /^(twk_([A-Za-z0-9_-]+)\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43}))\.([A-Za-z0-9_-]{43})$/;
/** The prefix every key has, MAC'd or not (keys minted before MACs existed are refused). */
const API_KEY_SHAPE = /^twk_[A-Za-z0-9_-]+\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}(\.[A-Za-z0-9_-]{43})?$/;

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const macKeys = new WeakMap<Config, Promise<CryptoKey>>();

/**
 * The HMAC key: API_KEY_SECRET when set; otherwise HKDF-SHA256 over the active signing key's
 * private part (so rotating the active signing key invalidates keys minted without API_KEY_SECRET).
 */
function macKeyFor(config: Config): Promise<CryptoKey> {
  let key = macKeys.get(config);
  if (!key) {
    key = deriveMacKey(config);
    macKeys.set(config, key);
    key.catch(() => macKeys.delete(config));
  }
  return key;
}

async function deriveMacKey(config: Config): Promise<CryptoKey> {
  const hmac = { name: "HMAC", hash: "SHA-256" } as const;
  if (config.apiKeySecret) return crypto.subtle.importKey("raw", new TextEncoder().encode(config.apiKeySecret), hmac, false, ["sign", "verify"]);
  if (!config.signingJwks) throw new Error("API keys need API_KEY_SECRET or HANDLE_SIGNING_JWKS");
  const document = JSON.parse(config.signingJwks) as { keys: Array<{ kid?: string; d?: string }>; active?: string };
  const active = document.keys.find((k) => k.kid === (document.active ?? document.keys.find((x) => x.d)?.kid));
  if (!active?.d) throw new Error("API keys need API_KEY_SECRET or an active private key in HANDLE_SIGNING_JWKS");
  const material = await crypto.subtle.importKey("raw", base64url.decode(active.d), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("taskward"), info: new TextEncoder().encode("api-key-mac-v1") },
    material,
    { ...hmac, length: 256 },
    false,
    ["sign", "verify"],
  );
}

async function macOf(body: string, config: Config): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.sign("HMAC", await macKeyFor(config), new TextEncoder().encode(body))));
}

export function looksLikeApiKey(token: string): boolean {
  return API_KEY_SHAPE.test(token);
}

/** Creates a key for a machine principal; the plaintext key is returned once and never stored. */
export async function createApiKey(env: WorkerEnv, tenant: string, principal: { clientId: string; subject: string; label?: string; jkt?: string }, actor: string): Promise<{ key: string; record: ApiKeyRecord }> {
  const config = configFor(env);
  const id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  const secret = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  const body = `twk_${base64url.encode(tenant)}.${id}.${secret}`;
  const mac = await macOf(body, config);
  const record = await shardLedger(env, tenant, 0).createApiKey(tenant, { id, secretSha256: await sha256Hex(secret), ...principal }, actor);
  return { key: `${body}.${mac}`, record };
}

/** The principal of a live API key, or undefined. The MAC is checked before any ledger is asked. Step-up age counts from the key's creation. */
export async function verifyApiKey(token: string, config: Config, env: WorkerEnv): Promise<Principal | undefined> {
  const match = API_KEY.exec(token);
  if (!match) return undefined;
  if (!equalInConstantTime(await macOf(match[1]!, config), match[5]!)) return undefined;
  let tenant: string;
  try {
    tenant = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64url.decode(match[2]!));
  } catch {
    return undefined;
  }
  const found = await shardLedger(env, tenant, 0).apiKeyPrincipal(tenant, match[3]!, await sha256Hex(match[4]!));
  if (!found) return undefined;
  return {
    tenant, clientId: found.clientId, subject: found.subject, authTime: Math.floor(found.createdAt / 1000), scopes: [], via: "api_key",
    ...(found.jkt ? { boundJkt: found.jkt } : {}),
  };
}
