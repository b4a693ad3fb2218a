/** Operator endpoints (/admin), RFC 7009 /revoke, RFC 7662 /introspect and owner delegation. */
export { adminRoutes } from "./admin-routes.js";
export { tokenEndpoints } from "./token-endpoints.js";
