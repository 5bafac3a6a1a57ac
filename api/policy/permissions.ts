// Who may do what: roles, the capabilities each role has, token scopes, and the mint guard.
// Pure: the auth plugin (api/plugins/auth.ts) and any admission code call the same functions.

export const ROLES = ["superadmin", "admin", "approver", "auditor", "helpdesk"] as const;
/** Roles of admin accounts and API tokens, strongest first. */
export type AdminRole = (typeof ROLES)[number];
/** `employee` is the portal identity (OIDC); it is never an admin account's or token's role. */
export type Role = AdminRole | "employee";

export const PERMISSIONS = [
  "public",
  "self",
  "orders:read",
  "orders:write",
  "orders:approve",
  "orders:reset",
  "assettypes:read",
  "assettypes:write",
  "runbooks:read",
  "runbooks:write",
  "audit:read",
  "cost:read",
  "leavers:read",
  "leavers:write",
  "users:admin",
  "tokens:write",
  "settings:write",
  "scim",
  "hr:leaver",
  "servicenow",
  "ingest",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Permissions that need no principal from the auth plugin: `public` pages, and `ingest`, whose
 * route verifies the runner's own per-Job HMAC token (record/ingest-token.ts).
 */
export const UNAUTHENTICATED: readonly Permission[] = ["public", "ingest"];

// orders:reset: ask for new generated values of an asset (a password reset), which go to the
// person's manager and never to the caller (api/orders/one-time-secrets.ts).
const HELPDESK: readonly Permission[] = [
  "self",
  "orders:read",
  "orders:reset",
  "assettypes:read",
  "runbooks:read",
];
const AUDITOR: readonly Permission[] = ["self", "audit:read", "cost:read", "leavers:read"];
const APPROVER: readonly Permission[] = ["self", "orders:read", "orders:approve", "assettypes:read"];
const ADMIN: readonly Permission[] = [
  ...new Set<Permission>([
    ...HELPDESK,
    ...AUDITOR,
    ...APPROVER,
    "orders:write",
    "assettypes:write",
    "runbooks:write",
    "leavers:write",
    "settings:write",
    // Integration tokens (SCIM, HR, ServiceNow) are bound to the admin role with a narrow scope.
    "scim",
    "hr:leaver",
    "servicenow",
  ]),
];

/**
 * The one capability table (issue #5): superadmin has everything incl. admin users and tokens;
 * admin runs the catalog, orders, settings and delegations; approver decides pending orders and
 * reads orders and asset types; auditor reads the audit log, cost and leaver events; helpdesk
 * reads orders, the pool and step logs, and resets generated values (passwords) of assets. Employees create and read their own orders (the routes
 * narrow "own").
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  superadmin: PERMISSIONS.filter((p) => p !== "ingest"),
  admin: ADMIN,
  approver: APPROVER,
  auditor: AUDITOR,
  helpdesk: HELPDESK,
  employee: ["self", "orders:read", "orders:write"],
};

export function isRole(s: string): s is AdminRole {
  return (ROLES as readonly string[]).includes(s);
}

export function isPermission(s: string): s is Permission {
  return (PERMISSIONS as readonly string[]).includes(s);
}

/** Rank for the mint guard and for "above/below": superadmin 5 … helpdesk 1, employee 0. */
export function rankOf(role: Role): number {
  return role === "employee" ? 0 : ROLES.length - ROLES.indexOf(role);
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return permission === "public" || ROLE_PERMISSIONS[role].includes(permission);
}

/**
 * A scope is a permission name (`orders:read`), a prefix wildcard (`orders:*`), or `admin:*`
 * (every permission, still capped by the token's role).
 */
export function scopeCovers(scope: string, permission: Permission): boolean {
  if (scope === permission || scope === "admin:*") return true;
  if (scope.endsWith(":*")) return permission.startsWith(scope.slice(0, -1));
  return false;
}

/** Valid scope strings: a permission (not public/ingest), `<area>:*` of a known area, or `admin:*`. */
export function isScope(s: string): boolean {
  if (s === "admin:*") return true;
  if (s.endsWith(":*")) return PERMISSIONS.some((p) => p.startsWith(s.slice(0, -1)));
  return isPermission(s) && !UNAUTHENTICATED.includes(s);
}

export type Grantee = { role: Role; scopes: readonly string[] | null };

/**
 * Effective rights = role ∩ scope: an `admin:*` token bound to the auditor role reads the audit
 * log and writes nothing. `scopes: null` (sessions, the legacy key) means the role alone decides.
 * `self` needs only an authenticated principal.
 */
export function isAllowed(who: Grantee, permission: Permission): boolean {
  if (permission === "public") return true;
  if (!roleAllows(who.role, permission)) return false;
  if (who.scopes === null || permission === "self") return true;
  return who.scopes.some((s) => scopeCovers(s, permission));
}

/** Every permission a scope list can reach, for expanding wildcards. */
export function permissionsOf(who: Grantee): Permission[] {
  return PERMISSIONS.filter((p) => !UNAUTHENTICATED.includes(p) && isAllowed(who, p));
}

export type MintDecision =
  { ok: true } | { ok: false; reason: "AboveOwnRole" | "AboveOwnScopes"; message: string };

/**
 * Mint guard: nobody issues a token above their own role, and a token that mints tokens cannot
 * hand out a right it does not have itself.
 */
export function checkMint(
  minter: Grantee,
  wanted: { role: AdminRole; scopes: readonly string[] },
): MintDecision {
  if (rankOf(wanted.role) > rankOf(minter.role)) {
    return {
      ok: false,
      reason: "AboveOwnRole",
      message: `cannot issue a token with role ${wanted.role}: it is above your own role (${minter.role})`,
    };
  }
  const mine = new Set(permissionsOf(minter));
  const theirs = permissionsOf({ role: wanted.role, scopes: wanted.scopes });
  const beyond = theirs.filter((p) => !mine.has(p));
  if (beyond.length > 0) {
    return {
      ok: false,
      reason: "AboveOwnScopes",
      message: `cannot issue a token with rights you do not have: ${beyond.join(", ")}`,
    };
  }
  return { ok: true };
}

/**
 * What a token may do right now: at most its creator's current role, and never more than any
 * token above it in the chain (tokens minted by tokens). `chain` is the token first, then the
 * token that minted it, and so on; `creatorRole` is the current role of the account at the top
 * (undefined for tokens the product issued itself, bound to their own role alone). The result
 * has explicit permission names as scopes, so `isAllowed` and the mint guard apply unchanged.
 */
export function tokenRights(
  chain: readonly { role: AdminRole; scopes: readonly string[] }[],
  creatorRole: AdminRole | undefined,
): { role: AdminRole; scopes: string[] } {
  const roles = [...chain.map((t) => t.role), ...(creatorRole ? [creatorRole] : [])];
  const role = roles.reduce((a, b) => (rankOf(b) < rankOf(a) ? b : a));
  let rights = new Set(permissionsOf({ role, scopes: chain[0]?.scopes ?? [] }));
  for (const t of chain.slice(1)) {
    const theirs = new Set(permissionsOf({ role, scopes: t.scopes }));
    rights = new Set([...rights].filter((p) => theirs.has(p)));
  }
  return { role, scopes: [...rights] };
}

/** The earliest expiry along a token chain (a token minted by a token cannot outlive it). */
export function chainExpiry(chain: readonly { expiresAt: Date | null }[]): Date | null {
  let at: Date | null = null;
  for (const t of chain) if (t.expiresAt && (at === null || t.expiresAt < at)) at = t.expiresAt;
  return at;
}
