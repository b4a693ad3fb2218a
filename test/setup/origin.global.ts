import type { TestProject } from "vitest/node";
import { generateSigningJwks } from "../../src/handle/keyring.js";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
    /** A second demo origin: the workers project's ORIGINS serves it as origin "beta" at /mcp/beta. */
    betaOriginUrl: string;
    signingJwks: string;
    publicJwks: string;
    /** Long fuzzing (npm run fuzz): runs per property (0 = each property's own bounded count). */
    fuzzRuns: number;
    /** Long fuzzing: minutes each property may run before it stops early (0 = no limit). */
    fuzzMinutes: number;
  }
}

/**
 * Starts the real demo origin (official MCP SDK) on loopback for the workerd tests, with a
 * signing key shared by the Worker (private, as its secret) and the origin (public, to verify).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const signingJwks = await generateSigningJwks("EdDSA");
  const { keys } = JSON.parse(signingJwks) as { keys: Array<Record<string, unknown>> };
  const publicJwks = { keys: keys.map(({ d: _d, ...pub }) => pub) };
  // Every call must carry a fresh origin assertion; the workers project also runs taskward in
  // its handle-header compatibility mode, so the origin re-verifies that handle as well.
  const verifying = {
    port: 0,
    assertionVerification: { issuer: "https://taskward.test", jwks: publicJwks as never },
    handleVerification: { issuer: "https://taskward.test", jwks: publicJwks as never },
    requireHandle: true,
  };
  const origin: DemoOrigin = await startDemoOrigin(verifying);
  const beta: DemoOrigin = await startDemoOrigin(verifying);
  project.provide("originUrl", origin.url);
  project.provide("betaOriginUrl", beta.url);
  project.provide("signingJwks", signingJwks);
  project.provide("publicJwks", JSON.stringify(publicJwks));
  project.provide("fuzzRuns", Number(process.env.FUZZ_RUNS ?? 0) || 0);
  project.provide("fuzzMinutes", Number(process.env.FUZZ_MINUTES ?? 0) || 0);
  return async () => {
    await beta.close();
    await origin.close();
  };
}
