// Who may approve or decline an Order, and separation of duties. Pure: the route gathers the
// Order, its AssetType, the delegations and the audit rows, and acts on the answer.

import { eligibleEntries, entriesOf } from "../../crds/approval-policy.ts";
import type { Role } from "./permissions.ts";

export const SOD_ACTIONS = ["asset_type_created", "asset_type_updated", "asset_type_cloned"] as const;

export type Approver = {
  username?: string | undefined;
  email?: string | undefined;
  /**
   * The person's other names from the admin-account directory (the account's username and
   * e-mail, matched exactly), so an approver known by e-mail is matched to audit rows of their
   * username, and is the listed username of their own account.
   */
  aliases?: readonly string[] | undefined;
  /**
   * The person behind an API token: the account that created it (`record/identity/tokens.ts`
   * `personBehindToken`). Separation of duties and self-approval apply to them as well.
   */
  onBehalfOf?: Approver | undefined;
};
export type Delegation = {
  principal: string;
  deputy: string;
  startsAt: Date;
  endsAt: Date;
  /** The principal's account names (username, e-mail) from the directory, matched exactly. */
  principalAliases?: readonly string[] | undefined;
};
/** `onBehalfOf`: the actor behind a `token:<name>` row (recorded at write time, or resolved). */
export type AuditRowRef = {
  id: string;
  action: string;
  actor: string;
  at: Date;
  onBehalfOf?: string | undefined;
};
export type Decision = "Approved" | "Declined";

export type ApprovalInput = {
  approver: Approver;
  /**
   * Who minted the one-click link this decision comes through: a link is a bearer capability,
   * so its issuer must pass separation of duties too (else an author mints a link and uses it).
   */
  issuer?: (Approver & { actor: string }) | undefined;
  decision: Decision;
  order: {
    phase: string | undefined;
    requesterEmail: string;
    manager: string | undefined;
    approvals: { approver: string }[];
  };
  policy: { kind: "None" | "Manager" | "Approvers"; approvers: string[] };
  delegations: Delegation[];
  /** Audit rows that created, updated or cloned the Order's AssetType. */
  assetTypeChanges: AuditRowRef[];
  now: Date;
};

export type ApprovalDecision =
  | { ok: true; approverKey: string; viaDeputy: boolean }
  | { ok: false; reason: "NotPending" | "NotApprover" | "AlreadyDecided" | "SelfApproval"; message: string }
  | { ok: false; reason: "SeparationOfDuties"; message: string; row: AuditRowRef };

const norm = (s: string) => s.trim().toLowerCase();
const localPart = (s: string) => (s.includes("@") ? s.slice(0, s.indexOf("@")) : s);

/**
 * The names a person goes by, loosely (admin username, e-mail, e-mail local part): for
 * separation of duties and self-approval only, where a false match refuses. Eligibility uses
 * `exactNamesOf`.
 */
export function namesOf(a: Approver): Set<string> {
  const out = new Set<string>();
  if (a.username) out.add(norm(a.username));
  for (const e of [a.email, ...(a.aliases ?? [])]) {
    if (!e) continue;
    out.add(norm(e));
    out.add(norm(localPart(e)));
  }
  return out;
}

/** The person's own names, exactly: username, e-mail, the same account's directory names. */
export function exactNamesOf(a: Approver): string[] {
  return [a.username, a.email, ...(a.aliases ?? [])].filter((x): x is string => !!x);
}

/** The approver and, for a token, the person behind it. */
const personsOf = (a: Approver): Approver[] => (a.onBehalfOf ? [a, a.onBehalfOf] : [a]);

/**
 * Whether an audit actor (`admin:<username>`, `user:<email>`, `token:<name>`) is this person,
 * matched by e-mail, e-mail local part or admin username. Loose on purpose: separation of duties.
 */
export function isSamePerson(actor: string, a: Approver): boolean {
  const id = actor.includes(":") ? actor.slice(actor.indexOf(":") + 1) : actor;
  const names = namesOf(a);
  return names.has(norm(id)) || names.has(norm(localPart(id)));
}

/** Whether an asset-type change was made by this person, themself or through a token. */
function changedBy(r: AuditRowRef, a: Approver): boolean {
  return personsOf(a).some(
    (p) => isSamePerson(r.actor, p) || (r.onBehalfOf !== undefined && isSamePerson(r.onBehalfOf, p)),
  );
}

const whoChanged = (r: AuditRowRef) => (r.onBehalfOf ? `${r.actor} on behalf of ${r.onBehalfOf}` : r.actor);

/**
 * Two names of one person, loosely: equal, or one is the other's e-mail local part. Only for
 * refusals (self-approval through a link); never to grant.
 */
export function isSameName(a: string, b: string): boolean {
  const x = norm(a);
  const y = norm(b);
  return x === y || norm(localPart(x)) === y || x === norm(localPart(y));
}

export function checkApproval(i: ApprovalInput): ApprovalDecision {
  if (i.order.phase !== undefined && i.order.phase !== "PendingApproval") {
    return {
      ok: false,
      reason: "NotPending",
      message: `the order is ${i.order.phase}, not pending approval`,
    };
  }
  // Eligibility is exact (crds/approval-policy.ts, the rule the operator counts with).
  const own = exactNamesOf(i.approver);
  const listed = eligibleEntries(
    { policy: i.policy.kind, approvers: i.policy.approvers },
    { id: "", email: i.order.requesterEmail, manager: i.order.manager },
  );
  let keys = entriesOf(listed, own);
  let viaDeputy = false;
  if (keys.length === 0) {
    const t = i.now.getTime();
    const ownSet = new Set(own.map(norm));
    for (const d of i.delegations) {
      if (!ownSet.has(norm(d.deputy)) || d.startsAt.getTime() > t || t >= d.endsAt.getTime()) continue;
      const forPrincipal = entriesOf(listed, [d.principal, ...(d.principalAliases ?? [])]);
      if (forPrincipal.length > 0) {
        keys = forPrincipal;
        viaDeputy = true;
        break;
      }
    }
  }
  const k = keys[0];
  if (k === undefined) {
    return {
      ok: false,
      reason: "NotApprover",
      message: "you are not an approver of this order (nor a deputy of one)",
    };
  }
  // Listed twice (by username and by e-mail) is still one person with one decision.
  const decided = i.order.approvals.find((a) => keys.some((x) => norm(a.approver) === norm(x)));
  if (decided) {
    return {
      ok: false,
      reason: "AlreadyDecided",
      message: `${decided.approver} has already decided on this order`,
    };
  }
  if (i.decision === "Declined") return { ok: true, approverKey: k, viaDeputy };
  if (personsOf(i.approver).some((p) => namesOf(p).has(norm(i.order.requesterEmail)))) {
    return { ok: false, reason: "SelfApproval", message: "nobody approves their own order" };
  }
  // Nor through a link they (or a token of theirs) issued for someone else.
  if (i.issuer && personsOf(i.issuer).some((p) => namesOf(p).has(norm(i.order.requesterEmail)))) {
    return {
      ok: false,
      reason: "SelfApproval",
      message: `this approval link was issued by ${i.issuer.actor}, who requested this order: nobody approves their own order`,
    };
  }
  const row = i.assetTypeChanges.find((r) => changedBy(r, i.approver));
  if (row) {
    return {
      ok: false,
      reason: "SeparationOfDuties",
      message: `separation of duties: you changed this asset type (audit row ${row.id}: ${row.action} by ${whoChanged(row)} at ${row.at.toISOString()}); another approver must decide`,
      row,
    };
  }
  const byIssuer = i.issuer && i.assetTypeChanges.find((r) => changedBy(r, i.issuer!));
  if (byIssuer) {
    return {
      ok: false,
      reason: "SeparationOfDuties",
      message: `separation of duties: this approval link was issued by ${i.issuer!.actor}, who changed this asset type (audit row ${byIssuer.id}: ${byIssuer.action} by ${whoChanged(byIssuer)} at ${byIssuer.at.toISOString()}); another approver must decide`,
      row: byIssuer,
    };
  }
  return { ok: true, approverKey: k, viaDeputy };
}

export type LinkMintInput = {
  /** The caller's role and own names (exact: username, e-mail; a token's: its creator's). */
  minter: { role: Role; names: readonly string[] };
  /** The approver the link decides as. */
  approver: string;
};
export type LinkMintDecision =
  { ok: true; forOther: boolean } | { ok: false; reason: "EmployeeLink" | "NotOwnLink"; message: string };

/**
 * Who may mint a one-click approval link. A link decides as its approver for whoever holds it,
 * and its minter gets the URL back: a link for someone else is a way to act as them. Nothing at
 * the moment of use can tell the minter from the approver (the link works without a session,
 * by design), so the rule sits here: a link for yourself (exact name match), or, for another
 * approver, only a superadmin (who is audited doing so, `forOther`). Employees never mint.
 */
export function checkLinkMint(i: LinkMintInput): LinkMintDecision {
  if (i.minter.role === "employee")
    return { ok: false, reason: "EmployeeLink", message: "employees cannot mint approval links" };
  if (entriesOf([i.approver], i.minter.names).length > 0) return { ok: true, forOther: false };
  if (i.minter.role === "superadmin") return { ok: true, forOther: true };
  return {
    ok: false,
    reason: "NotOwnLink",
    message: `an approval link decides as its approver: you can mint one for yourself only, not for ${i.approver} (a superadmin can, audited)`,
  };
}
