/** Caller authentication (OAuth bearer JWTs, API keys, the dev issuer → Principal) and operators (→ Operator). */
export { authenticate, bearerChallenge } from "./authenticate.js";
export { mintDevToken, devIssuerUrl, type DevTokenRequest } from "./dev-issuer.js";
export { isIdentifier, type Principal } from "./principal.js";
export { authenticateOperator, requireGrant, OPERATOR_ROLES, type Operator, type OperatorRole } from "./operators.js";
