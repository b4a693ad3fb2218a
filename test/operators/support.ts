import { worker } from "../support/mcp-client.js";

/** A dev-issuer operator token (the console and CLI use the same kind of token). */
export async function operatorToken(sub: string, roles: string[], tenants: string[] | "*"): Promise<string> {
  const response = await worker().fetch("https://taskward.test/dev/operator-token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, roles, tenants }),
  });
  if (response.status !== 200) throw new Error(`operator token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The operator id the audit names for a dev-issuer operator. */
export function devOperatorId(sub: string): string {
  return `https://taskward.test/dev#${sub}`;
}
