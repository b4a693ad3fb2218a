/** Mint and verify task handles; the signing key ring and its public JWKS. */
export * from "./claims.js";
export { TaskHandleError, type TaskHandleErrorCode } from "./errors.js";
export { loadKeyRing, generateSigningJwk, generateSigningJwks, KeyRingError, type KeyRing } from "./keyring.js";
export { mintHandle, newJti, type MintContext } from "./mint.js";
export { verifyHandle, type VerifyHandleOptions, type HandleKeyResolver } from "./verify.js";
export { keyRingResolver } from "./resolve.js";
export { signingKeyRing } from "./signing-keys.js";
export { sealCursor, openCursor, type CursorOwner } from "./cursor.js";
export { verifyOwnHandle } from "./verify-cached.js";
