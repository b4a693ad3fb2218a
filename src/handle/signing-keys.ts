import { generateSigningJwks, loadKeyRing, type KeyRing } from "./keyring.js";
import type { Config } from "../config.js";

let imported: { source: string; ring: Promise<KeyRing> } | undefined;
let devEphemeral: Promise<KeyRing> | undefined;

/**
 * The key ring for this isolate, imported once per distinct secret. With no secret, dev mode
 * uses an ephemeral key (handles die with the isolate); production refuses to sign.
 */
export function signingKeyRing(config: Config): Promise<KeyRing> | undefined {
  if (config.signingJwks) {
    if (imported?.source !== config.signingJwks) imported = { source: config.signingJwks, ring: loadKeyRing(config.signingJwks) };
    return imported.ring;
  }
  if (!config.devMode) return undefined;
  devEphemeral ??= generateSigningJwks("EdDSA").then(loadKeyRing);
  return devEphemeral;
}
