/** Caller authentication: OAuth bearer JWTs, the dev issuer → Principal. */
export { authenticate, bearerChallenge } from "./authenticate.js";
export { mintDevToken, devIssuerUrl, type DevTokenRequest } from "./dev-issuer.js";
export { isIdentifier, type Principal } from "./principal.js";
