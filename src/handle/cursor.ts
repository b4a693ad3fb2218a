import type { KeyRing } from "./keyring.js";
import { seal, unseal } from "./seal.js";

/**
 * Origin pagination cursors can be origin task ids (the SDK's are), so they never reach clients
 * readable: each is sealed (encrypted and authenticated) together with the principal that listed,
 * and lives an hour.
 */
const CURSOR_LIFETIME_SECONDS = 3600;

export interface CursorOwner {
  tenant: string;
  clientId: string;
  subject: string;
  /** The origin listed, when not the default one: a cursor opens only behind the origin it came from. */
  origin?: string;
}

export async function sealCursor(originCursor: string, owner: CursorOwner, keyRing: KeyRing, issuer: string): Promise<string> {
  return seal("cursor", { c: originCursor, iss: issuer, tenant: owner.tenant, client_id: owner.clientId, sub: owner.subject, ...(owner.origin === undefined ? {} : { o: owner.origin }) }, keyRing, CURSOR_LIFETIME_SECONDS);
}

/** The origin cursor inside a sealed cursor, or undefined if it is not ours, expired, or someone else's. */
export async function openCursor(sealed: string, owner: CursorOwner, keyRing: KeyRing, issuer: string): Promise<string | undefined> {
  const claims = await unseal("cursor", sealed, keyRing);
  if (!claims || claims.iss !== issuer || claims.tenant !== owner.tenant || claims.client_id !== owner.clientId || claims.sub !== owner.subject || claims.o !== owner.origin) return undefined;
  return typeof claims.c === "string" ? claims.c : undefined;
}
