import { SignJWT, jwtVerify, type JWTPayload } from "jose";
import type { Config } from "../config.js";
import { equalInConstantTime } from "../constant-time.js";
import { Refusal } from "../errors.js";
import { HANDLE_ALGORITHMS } from "../handle/claims.js";
import type { KeyRing } from "../handle/keyring.js";
import { keyRingKeyGetter } from "../handle/resolve.js";
import { signingKeyRing } from "../handle/signing-keys.js";
import { devIssuerUrl } from "./dev-issuer.js";
import { verifyOAuthJwt } from "./oauth.js";
import { isIdentifier } from "./principal.js";

/** What an operator may do; each /admin route needs exactly one of these. */
export const OPERATOR_ROLES = ["taskward:read", "taskward:revoke", "taskward:cancel", "taskward:audit", "taskward:delegate", "taskward:api-keys"] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** The claim that limits an operator to tenants: an array of tenant ids, or "*". */
export const OPERATOR_TENANTS_CLAIM = "taskward_tenants";

/** An authenticated operator: who (issuer + subject), what (roles), where (tenants). */
export interface Operator {
  /** `<iss>#<sub>`, or "break-glass" for ADMIN_TOKEN: the actor every audit event names. */
  id: string;
  roles: OperatorRole[];
  tenants: string[] | "*";
  breakGlass: boolean;
}

/** ADMIN_TOKEN: every role on every tenant, audited under its own name. */
const BREAK_GLASS: Operator = { id: "break-glass", roles: [...OPERATOR_ROLES], tenants: "*", breakGlass: true };
const OPERATOR_TOKEN_TYP = "at+jwt";
const DEV_OPERATOR_TOKEN_LIFETIME_SECONDS = 8 * 3600;

/** The audience of operator tokens: the admin API, never the MCP resource, so neither token opens the other. */
export function operatorAudience(config: Config): string {
  return `${config.issuer}/admin`;
}

function isRole(value: unknown): value is OperatorRole {
  return typeof value === "string" && (OPERATOR_ROLES as readonly string[]).includes(value);
}

/** Roles from the RFC 9068 `roles` claim and from `scope`; anything unknown is ignored. */
function rolesOf(payload: JWTPayload): OperatorRole[] {
  const fromRoles = Array.isArray(payload.roles) ? payload.roles : [];
  const fromScope = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
  return [...new Set([...fromRoles, ...fromScope].filter(isRole))];
}

/** The tenant grant; a token without the claim reaches no tenant (fail closed). */
function tenantsOf(payload: JWTPayload): string[] | "*" {
  const claim = payload[OPERATOR_TENANTS_CLAIM];
  if (claim === "*") return "*";
  if (Array.isArray(claim) && claim.every(isIdentifier)) return claim;
  throw new Error(`operator token lacks ${OPERATOR_TENANTS_CLAIM} (an array of tenant ids, or "*")`);
}

function operatorOf(payload: JWTPayload): Operator {
  if (typeof payload.iss !== "string" || typeof payload.sub !== "string" || payload.sub === "") throw new Error("operator token lacks iss or sub");
  return { id: `${payload.iss}#${payload.sub}`, roles: rolesOf(payload), tenants: tenantsOf(payload), breakGlass: false };
}

async function verifyOAuthOperator(token: string, config: Config): Promise<Operator> {
  return operatorOf(await verifyOAuthJwt(token, config, operatorAudience(config)));
}

async function verifyDevOperator(token: string, keyRing: KeyRing, config: Config): Promise<Operator> {
  const { payload } = await jwtVerify(token, keyRingKeyGetter(keyRing), {
    algorithms: [...HANDLE_ALGORITHMS],
    typ: OPERATOR_TOKEN_TYP,
    issuer: devIssuerUrl(config.issuer),
    audience: operatorAudience(config),
    requiredClaims: ["sub", "exp", "iat"],
  });
  return operatorOf(payload);
}

/**
 * The operator behind `Authorization: Bearer …`: ADMIN_TOKEN (break-glass), an OAuth access token
 * for the admin audience, or (dev mode) a dev-issuer operator token. Anything else is a 401.
 */
export async function authenticateOperator(authorization: string | undefined, config: Config): Promise<Operator> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token) throw new Refusal("admin_unauthorized", "no bearer credential");
  if (config.adminToken && equalInConstantTime(token, config.adminToken)) return BREAK_GLASS;
  const reasons: string[] = [];
  if (config.oauth.issuers.length > 0) {
    const operator = await verifyOAuthOperator(token, config).catch((error: Error) => void reasons.push(`oauth: ${error.message}`));
    if (operator) return operator;
  }
  if (config.devMode) {
    const keyRing = await signingKeyRing(config);
    const operator = keyRing ? await verifyDevOperator(token, keyRing, config).catch((error: Error) => void reasons.push(`dev: ${error.message}`)) : undefined;
    if (operator) return operator;
  }
  throw new Refusal("admin_unauthorized", reasons.join("; ") || "no verifier accepts this token");
}

/** Throws a 403 naming the missing role or tenant; returns when the operator may act. */
export function requireGrant(operator: Operator, role: OperatorRole, tenant?: string): void {
  if (!operator.roles.includes(role)) throw new Refusal("operator_role_missing", `${operator.id} lacks ${role}`, `This operation requires the ${role} role`);
  if (tenant !== undefined && operator.tenants !== "*" && !operator.tenants.includes(tenant)) {
    throw new Refusal("operator_tenant_forbidden", `${operator.id} is not granted tenant ${tenant}`, `This operator is not granted tenant ${tenant}`);
  }
}

export interface DevOperatorTokenRequest {
  sub: string;
  roles: OperatorRole[];
  tenants: string[] | "*";
}

/** Signs a development operator token (dev mode only), shaped like the OAuth tokens production uses. */
export async function mintDevOperatorToken(request: DevOperatorTokenRequest, keyRing: KeyRing, config: Config): Promise<{ token: string; expiresIn: number }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ roles: request.roles, [OPERATOR_TENANTS_CLAIM]: request.tenants })
    .setProtectedHeader({ alg: keyRing.signing.alg, kid: keyRing.signing.kid, typ: OPERATOR_TOKEN_TYP })
    .setIssuer(devIssuerUrl(config.issuer))
    .setAudience(operatorAudience(config))
    .setSubject(request.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + DEV_OPERATOR_TOKEN_LIFETIME_SECONDS)
    .sign(keyRing.signing.key);
  return { token, expiresIn: DEV_OPERATOR_TOKEN_LIFETIME_SECONDS };
}
