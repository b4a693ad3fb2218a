/** Operator endpoints (/admin) behind the admin credential. */
export { adminRoutes } from "./admin-routes.js";
