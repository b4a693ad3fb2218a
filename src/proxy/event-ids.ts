import type { KeyRing } from "../handle/keyring.js";
import { seal, unseal } from "../handle/seal.js";

/**
 * SSE event ids are origin-chosen strings (they may carry origin task ids), yet clients need them
 * to resume a stream with Last-Event-ID. Each id is sealed (src/handle/seal.ts, purpose
 * `event-id`) together with the caller: the client sees an opaque id, only the same principal can
 * have it opened, and any other Last-Event-ID is dropped rather than forwarded.
 */
export interface EventIdSealer {
  seal(originId: string): Promise<string>;
  /** The origin's event id, or undefined when `sealed` is not one this authority issued to this caller. */
  open(sealed: string): Promise<string | undefined>;
}

export interface EventIdOwner {
  tenant: string;
  clientId: string;
  subject: string;
  /** The origin streamed from, when not the default one: an id resumes only behind its own origin. */
  origin?: string;
}

/** A sealer for one caller, under the key ring's sealing keys. */
export function eventIdSealer(keyRing: KeyRing, owner: EventIdOwner): EventIdSealer {
  return {
    seal: (originId) => seal("event-id", { e: originId, t: owner.tenant, c: owner.clientId, s: owner.subject, ...(owner.origin === undefined ? {} : { o: owner.origin }) }, keyRing),
    async open(sealed) {
      const claims = await unseal("event-id", sealed, keyRing);
      if (!claims || claims.t !== owner.tenant || claims.c !== owner.clientId || claims.s !== owner.subject || claims.o !== owner.origin) return undefined;
      return typeof claims.e === "string" ? claims.e : undefined;
    },
  };
}
