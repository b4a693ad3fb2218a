/**
 * SSE event ids are origin-chosen strings (they may carry origin task ids), yet clients need them
 * to resume a stream with Last-Event-ID. Each id is sealed with AES-GCM under a key derived
 * (HKDF-SHA-256) from the handle-signing secret, bound to the caller as associated data: the
 * client sees an opaque id, only the same principal can have it opened, and any other
 * Last-Event-ID is dropped rather than forwarded.
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
}

const IV_BYTES = 12;
/** Longest sealed id opened: origin ids are short; anything longer is not ours. */
const MAX_SEALED_CHARS = 1024;
const keys = new Map<string, Promise<CryptoKey>>();

function deriveKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    const encoder = new TextEncoder();
    key = crypto.subtle
      .importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: encoder.encode("taskward/sse-event-id"), info: encoder.encode("v1") },
          material,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A sealer for one caller; `secret` is the handle-signing JWKS (a secret the edge already holds). */
export function eventIdSealer(secret: string, owner: EventIdOwner): EventIdSealer {
  const encoder = new TextEncoder();
  const additionalData = encoder.encode(`${owner.tenant}\u0000${owner.clientId}\u0000${owner.subject}`);
  return {
    async seal(originId) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData }, await deriveKey(secret), encoder.encode(originId)));
      const out = new Uint8Array(IV_BYTES + sealed.length);
      out.set(iv);
      out.set(sealed, IV_BYTES);
      return toBase64Url(out);
    },
    async open(sealed) {
      const bytes = sealed.length <= MAX_SEALED_CHARS ? fromBase64Url(sealed) : undefined;
      if (!bytes || bytes.length <= IV_BYTES) return undefined;
      try {
        const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, IV_BYTES), additionalData }, await deriveKey(secret), bytes.slice(IV_BYTES));
        return new TextDecoder().decode(plain);
      } catch {
        return undefined;
      }
    },
  };
}
