// Who may order an AssetType (its `spec.entitlement`; crds/assettypes.yaml: "Who may order this
// asset; nobody when unset or empty"). Pure: the orders API and the portal call it with the
// employee's record (department, active) and the SCIM Groups they belong to.
//
// - `everyone: true` entitles every active employee, also one the IdP has not provisioned
//   (signed in through OIDC, no SCIM record yet: nothing says they left).
// - `departments`: the employee's (enterprise extension) department equals one of them,
//   trimmed and case-insensitive.
// - `groups`: the employee is a member of a SCIM Group named by its displayName (trimmed,
//   case-insensitive), its id, or its externalId (exact: RFC 7643 §3.1 caseExact).
// - An inactive (deactivated, deleted) employee is never entitled.
//
// Which actions it applies to: `isEntitlementRequired`. A Deprovision is never gated (a leaver's
// reclaim, or giving back an asset one is no longer entitled to, must always go through).

export type Entitlement = { everyone?: boolean; groups?: string[]; departments?: string[] };

export type OrdererGroup = { id: string; displayName: string; externalId: string | null };

/** The employee as the record knows them; undefined = no SCIM record (OIDC sign-in only). */
export type Orderer = { active: boolean; department: string | null; groups: OrdererGroup[] };

export type EntitlementDecision =
  | { ok: true; via: "everyone" | "department" | "group"; matched?: string }
  | { ok: false; reason: "NoEntitlement" | "Inactive" | "NotEntitled"; message: string };

export type OrderAction = "Provision" | "Modify" | "Deprovision";

/**
 * Provision needs entitlement. Modify too: it changes what the employee holds (a bigger
 * mailbox, another licence tier) and is a new request for this type, so someone who lost the
 * entitlement (moved department, left a group) keeps what they have but cannot change it.
 * Deprovision never: giving back must always work, and a leaver's reclaim must never wait on it.
 */
export function isEntitlementRequired(action: OrderAction): boolean {
  return action !== "Deprovision";
}

const norm = (s: string) => s.trim().toLowerCase();

export function decideEntitlement(
  entitlement: Entitlement | undefined,
  who: Orderer | undefined,
): EntitlementDecision {
  if (who !== undefined && !who.active) {
    return { ok: false, reason: "Inactive", message: "a deactivated employee is entitled to nothing" };
  }
  const e = entitlement ?? {};
  const departments = (e.departments ?? []).map(norm).filter((d) => d !== "");
  const groups = (e.groups ?? []).map((g) => g.trim()).filter((g) => g !== "");
  if (e.everyone !== true && departments.length === 0 && groups.length === 0) {
    return { ok: false, reason: "NoEntitlement", message: "the asset type names nobody who may order it" };
  }
  if (e.everyone === true) return { ok: true, via: "everyone" };
  const dept = who?.department ? norm(who.department) : "";
  if (dept !== "" && departments.includes(dept)) return { ok: true, via: "department", matched: dept };
  for (const wanted of groups) {
    const lower = wanted.toLowerCase();
    const hit = (who?.groups ?? []).find(
      (g) =>
        norm(g.displayName) === lower ||
        g.id.toLowerCase() === lower ||
        (g.externalId !== null && g.externalId === wanted),
    );
    if (hit) return { ok: true, via: "group", matched: hit.displayName };
  }
  return {
    ok: false,
    reason: "NotEntitled",
    message: "neither the employee's department nor their groups are entitled to this asset type",
  };
}
