// Per-asset-type ACL for the admin role. With at least one grant an admin is scoped: lists show
// only granted types, and every other type answers exactly like a missing one (404). Zero
// grants = all types. Every other role bypasses grants. Pure.
//
// Creating an asset type is a catalogue-wide action: only unscoped admins and superadmins do
// it. A scoped admin's write to a name outside their grants answers the GET's 404 whether the
// type exists or not, so no write route tells "exists, hidden" from "missing".
import type { Role } from "./permissions.ts";

export type AclScope = { all: true } | { all: false; types: ReadonlySet<string> };

export function aclScopeOf(role: Role, grants: readonly string[]): AclScope {
  if (role !== "admin" || grants.length === 0) return { all: true };
  return { all: false, types: new Set(grants) };
}

export function isVisible(scope: AclScope, assetType: string): boolean {
  return scope.all || scope.types.has(assetType);
}

export type CreateCheck =
  { ok: true } | { ok: false; reason: "NotFound" } | { ok: false; reason: "ScopedCreate"; message: string };

/**
 * Whether the caller may create a type of this name (PUT of a missing name, clone target).
 * Outside a scoped admin's grants: `NotFound` (the caller answers with the GET's 404), decided before anyone looks
 * whether the name exists. Inside their grants (a granted name that does not exist yet):
 * `ScopedCreate`, refused plainly (they already know their own grants).
 */
export function checkCreate(scope: AclScope, assetType: string): CreateCheck {
  if (scope.all) return { ok: true };
  if (!scope.types.has(assetType)) return { ok: false, reason: "NotFound" };
  return {
    ok: false,
    reason: "ScopedCreate",
    message:
      "creating asset types is for unscoped admins: an admin limited to some asset types cannot create one",
  };
}

/**
 * A runbook's scope follows the asset types that run it (provision, modify or deprovision):
 * - `write`: every type that runs it is granted (a scoped admin's own runbook);
 * - `read`: some are and some are not (a runbook shared with other teams: seen, not changed);
 * - `hidden`: none are, or none runs it at all (a standalone scheduled runbook, another team's
 *   draft), answered with the missing runbook's 404.
 * Unscoped callers have `write` on all. Creating a runbook is, like creating a type, for
 * unscoped admins (checkCreate's ScopedCreate).
 */
export type RunbookAccess = "write" | "read" | "hidden";

export function runbookAccess(scope: AclScope, runBy: readonly string[]): RunbookAccess {
  if (scope.all) return "write";
  const mine = runBy.filter((t) => scope.types.has(t)).length;
  if (mine === 0) return "hidden";
  return mine === runBy.length ? "write" : "read";
}

/** The runbook names an AssetType spec runs. */
export function runbooksOf(spec: {
  runbooks?: { provision?: string; modify?: string; deprovision?: string } | undefined;
}): string[] {
  const r = spec.runbooks ?? {};
  return [...new Set([r.provision, r.modify, r.deprovision].filter((n): n is string => !!n))];
}

/** Which asset types run each runbook (what `runbookAccess` decides by). */
export function runByOf(
  assetTypes: readonly { metadata: { name: string }; spec: Parameters<typeof runbooksOf>[0] }[],
): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const t of assetTypes)
    for (const n of runbooksOf(t.spec)) m.set(n, [...(m.get(n) ?? []), t.metadata.name]);
  return m;
}
