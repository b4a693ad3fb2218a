import { base64url } from "jose";

/**
 * The `aud` a compact JWS names, read without verifying it: it only chooses which origin's
 * audience the handle is then verified against (or which origin a ledger-held handle belongs to).
 */
export function unverifiedAudienceOf(token: string): unknown {
  try {
    return (JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1] ?? ""))) as { aud?: unknown }).aud;
  } catch {
    return undefined;
  }
}
