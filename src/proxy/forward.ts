import { Refusal } from "../errors.js";

/** Sends one request to the origin; network failure becomes a 502 refusal (nothing retried). */
export async function forwardToOrigin(originUrl: string, init: { method: string; headers: Headers; body?: string; signal?: AbortSignal }): Promise<Response> {
  try {
    return await fetch(originUrl, { method: init.method, headers: init.headers, body: init.body, signal: init.signal, redirect: "manual" });
  } catch (error) {
    throw new Refusal("origin_unreachable", (error as Error).message);
  }
}
