import type { Context } from "hono";
import type * as z from "../validation.js";

export type ParsedBody<T> = { ok: true; value: T } | { ok: false; response: Response };

/** Parses a JSON body against `schema`; a failure is a 400 that says which field is wrong and what was expected. */
export async function parseJsonBody<T>(c: Context, schema: z.ZodMiniType<T>, expected: string): Promise<ParsedBody<T>> {
  const body = await c.req.json().catch(() => undefined);
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"} ${issue.message}`).join("; ");
  return { ok: false, response: c.json({ error: "invalid_request", message: `expected ${expected}: ${problems}` }, 400) };
}

export function invalidRequest(c: Context, message: string): Response {
  return c.json({ error: "invalid_request", message }, 400);
}
