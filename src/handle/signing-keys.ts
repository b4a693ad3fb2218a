import { generateSigningJwks, loadKeyRing, type KeyRing } from "./keyring.js";
import type { Config } from "../config.js";

let cached: { source: string; ring: Promise<KeyRing> } | undefined;
let devEphemeral: Promise<string> | undefined;

/**
 * The key ring for this isolate, imported once per distinct secret. With no secret, dev mode
 * uses an ephemeral key (handles die with the isolate); production refuses to sign.
 */
export function signingKeyRing(config: Config): Promise<KeyRing> | undefined {
  let source: Promise<string> | string | undefined = config.signingJwks;
  if (!source) {
    if (!config.devMode) return undefined;
    devEphemeral ??= generateSigningJwks("EdDSA");
    source = devEphemeral;
  }
  if (typeof source === "string") {
    if (cached?.source !== source) cached = { source, ring: loadKeyRing(source) };
    return cached.ring;
  }
  return source.then((document) => {
    if (cached?.source !== document) cached = { source: document, ring: loadKeyRing(document) };
    return cached.ring;
  });
}
