import { base64url } from "jose";
import type { WorkerEnv } from "../config.js";
import { ledgerFor } from "../ledger/ledger-client.js";
import type { ApiKeyRecord } from "../ledger/types.js";
import type { Principal } from "./principal.js";

/** API keys look like `twk_<tenant, base64url>.<id>.<secret>`: the tenant routes to its ledger, the id finds the record, the secret is checked against its SHA-256. */
const API_KEY = /^twk_([A-Za-z0-9_-]+)\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function looksLikeApiKey(token: string): boolean {
  return API_KEY.test(token);
}

/** Creates a key for a machine principal; the plaintext key is returned once and never stored. */
export async function createApiKey(env: WorkerEnv, tenant: string, principal: { clientId: string; subject: string; label?: string; jkt?: string }, actor: string): Promise<{ key: string; record: ApiKeyRecord }> {
  const id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  const secret = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  const record = await ledgerFor(env.TASK_LEDGER, tenant).createApiKey(tenant, { id, secretSha256: await sha256Hex(secret), ...principal }, actor);
  return { key: `twk_${base64url.encode(tenant)}.${id}.${secret}`, record };
}

/** The principal of a live API key, or undefined. Step-up age counts from the key's creation. */
export async function verifyApiKey(token: string, env: WorkerEnv): Promise<Principal | undefined> {
  const match = API_KEY.exec(token);
  if (!match) return undefined;
  let tenant: string;
  try {
    tenant = new TextDecoder().decode(base64url.decode(match[1]!));
  } catch {
    return undefined;
  }
  const found = await ledgerFor(env.TASK_LEDGER, tenant).apiKeyPrincipal(tenant, match[2]!, await sha256Hex(match[3]!));
  if (!found) return undefined;
  return {
    tenant, clientId: found.clientId, subject: found.subject, authTime: Math.floor(found.createdAt / 1000), scopes: [], via: "api_key",
    ...(found.jkt ? { boundJkt: found.jkt } : {}),
  };
}
