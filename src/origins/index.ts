/** Several MCP origins behind one authority: ORIGINS parsed, and the config a request to one of them runs under. */
export { parseOrigins, type OriginConfig } from "./parse-origins.js";
export { unverifiedAudienceOf } from "./handle-audience.js";
export { callerTokenAudiences, unknownOrigin, configAt, configForAudience, originNamed, originWithAudience, type McpPath } from "./origin-scope.js";
