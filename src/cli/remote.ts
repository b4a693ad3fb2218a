import { RemoteError, UsageError } from "./output.js";
import { readSecretFile } from "./secret-files.js";

export interface RemoteOptions {
  url?: string;
  "admin-token"?: string;
  "admin-token-file"?: string;
}

/** The authority's base URL (--url or TASKWARD_URL). */
export function baseUrl(options: RemoteOptions): string {
  const url = options.url ?? process.env.TASKWARD_URL;
  if (!url) throw new UsageError("--url (or TASKWARD_URL) is required: the authority's base URL");
  return url.replace(/\/$/, "");
}

/**
 * The admin credential: TASKWARD_ADMIN_TOKEN or --admin-token-file (never only argv, which other
 * users see in process lists and which lands in shell history); --admin-token still works, with a
 * warning printed by main.
 */
async function adminToken(options: RemoteOptions): Promise<string> {
  if (options["admin-token-file"]) return readSecretFile(options["admin-token-file"]);
  const token = options["admin-token"] ?? process.env.TASKWARD_ADMIN_TOKEN;
  if (!token) throw new UsageError("the admin token is required: set TASKWARD_ADMIN_TOKEN or pass --admin-token-file FILE");
  return token;
}

/** Calls the authority's admin API with the admin credential. */
export async function adminRequest(options: RemoteOptions, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const url = baseUrl(options);
  const token = await adminToken(options);
  return request(`${url}${path}`, { method: init.method ?? "GET", body: init.body, token });
}

export async function request(url: string, init: { method: string; body?: unknown; token?: string }): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: { "content-type": "application/json", ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch (error) {
    throw new RemoteError(`cannot reach ${url}: ${(error as Error).message}`);
  }
  return response;
}

/** What a server's JSON error body says (`message`, else `error`), else the text itself. */
export function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    return String(body.message ?? body.error ?? text);
  } catch {
    return text;
  }
}

/** The response body as JSON, or a RemoteError carrying the server's message. */
export async function expectJson(response: Response, okStatuses: number[] = [200, 201]): Promise<Record<string, any>> {
  const text = await response.text();
  let body: Record<string, any> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new RemoteError(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  }
  if (!okStatuses.includes(response.status)) throw new RemoteError(`HTTP ${response.status}: ${body.message ?? body.error ?? text}`);
  return body;
}
