// Per-asset-type ACL for the admin role. With at least one grant an admin is scoped: lists show
// only granted types, and every other type answers exactly like a missing one (404). Zero
// grants = all types. Every other role bypasses grants. Pure.
import type { Role } from "./permissions.ts";

export type AclScope = { all: true } | { all: false; types: ReadonlySet<string> };

export function aclScopeOf(role: Role, grants: readonly string[]): AclScope {
  if (role !== "admin" || grants.length === 0) return { all: true };
  return { all: false, types: new Set(grants) };
}

export function isVisible(scope: AclScope, assetType: string): boolean {
  return scope.all || scope.types.has(assetType);
}

/** Creating a type auto-grants it to a scoped admin (an unscoped one already sees everything). */
export function shouldAutoGrant(scope: AclScope): boolean {
  return !scope.all;
}
