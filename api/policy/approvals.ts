// Who may approve or decline an Order, and separation of duties. Pure: the route gathers the
// Order, its AssetType, the delegations and the audit rows, and acts on the answer.

import { eligibleEntries, entriesOf, EXPIRY_APPROVER } from "../../crds/approval-policy.ts";
import type { Role } from "./permissions.ts";

export const SOD_ACTIONS = ["asset_type_created", "asset_type_updated", "asset_type_cloned"] as const;
/** Changes to a Runbook the asset type runs (provision, modify, deprovision) count the same (#15 item 7). */
export const SOD_RUNBOOK_ACTIONS = ["runbook_created", "runbook_updated", "runbook_cloned"] as const;

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
  /**
   * Every other identity of the person from the directory (SCIM id, userName, externalId, all
   * e-mails): self-approval compares all of them with the requester's and the placer's.
   */
  identities?: readonly string[] | undefined;
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
  /** `assettype:<name>` or `runbook:<name>` (a runbook the asset type runs). */
  target?: string | undefined;
};

/** What the approver changed, in words, for the 409. */
const changedWhat = (r: AuditRowRef) =>
  r.target?.startsWith("runbook:")
    ? `runbook ${r.target.slice("runbook:".length)}, which this asset type runs`
    : "this asset type";
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
    approvals: { approver: string; at?: string | undefined }[];
    /** The requester's every identity from the directory (SCIM id, userName, externalId, e-mails). */
    requesterIdentities?: readonly string[] | undefined;
    /** Who placed the order (staff on someone's behalf): they cannot approve it either. */
    placedBy?: (Approver & { actor: string }) | undefined;
  };
  policy: { kind: "None" | "Manager" | "Approvers"; approvers: string[] };
  delegations: Delegation[];
  /**
   * People the system let decide in a listed approver's place on this order (escalation to the
   * approver's manager or the fallback group, reassignment from a leaver): their decision counts
   * as `approverKey`.
   */
  grants?: readonly { approverKey: string; names: readonly string[] }[] | undefined;
  /** The approver is a leaver whose leaver event has taken effect: nothing of theirs counts. */
  approverIsLeaver?: boolean | undefined;
  /** Audit rows that created, updated or cloned the Order's AssetType or one of its Runbooks. */
  assetTypeChanges: AuditRowRef[];
  now: Date;
};

export type ApprovalDecision =
  | { ok: true; approverKey: string; viaDeputy: boolean }
  | {
      ok: false;
      reason: "NotPending" | "NotApprover" | "AlreadyDecided" | "SelfApproval" | "ApprovalExpired" | "Leaver";
      message: string;
    }
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

/** The names to compare for self-approval: exact, plus a bare name against e-mail local parts. */
function identitiesOf(p: Approver): { full: Set<string>; bare: Set<string> } {
  const all = [...exactNamesOf(p), ...(p.identities ?? [])].map(norm).filter((x) => x !== "");
  return { full: new Set(all), bare: new Set(all.filter((x) => !x.includes("@"))) };
}

/**
 * Whether a person is one of the given identities (the requester's, the placer's): any exact
 * identity in common, or a bare name (username, id) that is one of their e-mails' local part
 * (an account without e-mail is still `bert` of `bert@example.com`). Refuses; never grants.
 */
export function isSameIdentity(p: Approver, others: readonly string[]): boolean {
  const mine = identitiesOf(p);
  for (const o of others.map(norm)) {
    if (o === "") continue;
    if (mine.full.has(o)) return true;
    if (o.includes("@") && mine.bare.has(localPart(o))) return true;
  }
  return false;
}

export function checkApproval(i: ApprovalInput): ApprovalDecision {
  // Expired by the scheduler (an entry of system:approvals on the Order): refused with 409,
  // before anything else, so a late link or page says "expired", not "not pending".
  const expired = i.order.approvals.find((a) => a.approver === EXPIRY_APPROVER);
  if (expired) {
    return {
      ok: false,
      reason: "ApprovalExpired",
      message: `the approval of this order expired${expired.at ? ` at ${expired.at}` : ""}: decisions are no longer accepted`,
    };
  }
  if (i.approverIsLeaver) {
    return {
      ok: false,
      reason: "Leaver",
      message: "you have left the organisation (leaver event in effect): your approvals no longer count",
    };
  }
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
  if (keys.length === 0) {
    for (const g of i.grants ?? []) {
      if (entriesOf(g.names, own).length === 0) continue;
      const forKey = entriesOf(listed, [g.approverKey]);
      if (forKey.length > 0) {
        keys = forKey;
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
  const requester = [i.order.requesterEmail, ...(i.order.requesterIdentities ?? [])];
  if (
    personsOf(i.approver).some(
      (p) => namesOf(p).has(norm(i.order.requesterEmail)) || isSameIdentity(p, requester),
    )
  ) {
    return { ok: false, reason: "SelfApproval", message: "nobody approves their own order" };
  }
  const placer = i.order.placedBy;
  if (placer) {
    const placerIds = [placer.actor, ...exactNamesOf(placer), ...(placer.identities ?? [])];
    const placers = [placer, ...(placer.onBehalfOf ? [placer.onBehalfOf] : [])];
    const placerAll = [
      ...placerIds,
      ...placers.flatMap((p) => [...exactNamesOf(p), ...(p.identities ?? [])]),
    ];
    if (personsOf(i.approver).some((p) => isSameIdentity(p, placerAll) || isSamePerson(placer.actor, p))) {
      return {
        ok: false,
        reason: "SelfApproval",
        message: `you placed this order (${placer.actor}, on the requester's behalf): nobody approves an order they placed`,
      };
    }
  }
  // Nor through a link they (or a token of theirs) issued for someone else.
  if (
    i.issuer &&
    personsOf(i.issuer).some(
      (p) => namesOf(p).has(norm(i.order.requesterEmail)) || isSameIdentity(p, requester),
    )
  ) {
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
      message: `separation of duties: you changed ${changedWhat(row)} (audit row ${row.id}: ${row.action} by ${whoChanged(row)} at ${row.at.toISOString()}); another approver must decide`,
      row,
    };
  }
  const byIssuer = i.issuer && i.assetTypeChanges.find((r) => changedBy(r, i.issuer!));
  if (byIssuer) {
    return {
      ok: false,
      reason: "SeparationOfDuties",
      message: `separation of duties: this approval link was issued by ${i.issuer!.actor}, who changed ${changedWhat(byIssuer)} (audit row ${byIssuer.id}: ${byIssuer.action} by ${whoChanged(byIssuer)} at ${byIssuer.at.toISOString()}); another approver must decide`,
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

export type DelegationInput = {
  /** Who sets it: role, exact names and every identity (a token: its creator's). */
  setter: { role: Role; actor: string; person: Approver };
  /** The principal as named in the request, with every identity the directory knows for it. */
  principal: { name: string; identities: readonly string[] };
  /** The deputy as named, with every identity the directory knows for them. */
  deputy: { name: string; identities: readonly string[] };
  startsAt: Date;
  endsAt: Date;
  now: Date;
};
export type DelegationDecision =
  | { ok: true; forOther: boolean }
  | {
      ok: false;
      reason: "NotOwn" | "SelfDeputy" | "BadWindow";
      message: string;
      field?: "body.endsAt" | "body.startsAt" | "body.deputy" | undefined;
    };

/** Longest delegation window: a year (longer is a standing grant, which is a policy change). */
export const MAX_DELEGATION_MS = 366 * 24 * 3600_000;

/**
 * Who may set a delegation (#15 item 6): the principal themself, or a superadmin (audited as
 * `forOther`); never an admin for someone else. The deputy must be another person under every
 * name the directory knows for either (`deputy` = own username with principal = own e-mail is
 * still oneself), and the window must be real: ends after it starts, not already over, at most
 * a year.
 */
export function checkDelegation(i: DelegationInput): DelegationDecision {
  const principalIds = [i.principal.name, ...i.principal.identities];
  // Exact: a namesake at another domain (`bert@other.example`) is not `bert`.
  const exactOwn =
    entriesOf(principalIds, [...exactNamesOf(i.setter.person), ...(i.setter.person.identities ?? [])])
      .length > 0;
  if (!exactOwn && i.setter.role !== "superadmin") {
    return {
      ok: false,
      reason: "NotOwn",
      message: "you can set a delegation for your own approvals only (a superadmin can for others, audited)",
    };
  }
  const deputyAsPerson: Approver = { identities: [i.deputy.name, ...i.deputy.identities] };
  if (
    isSameIdentity(deputyAsPerson, principalIds) ||
    isSameIdentity({ identities: principalIds }, [i.deputy.name, ...i.deputy.identities])
  ) {
    return {
      ok: false,
      reason: "SelfDeputy",
      message: `a deputy must be someone else: ${i.deputy.name} is ${i.principal.name} under another name`,
      field: "body.deputy",
    };
  }
  if (i.endsAt.getTime() <= i.startsAt.getTime()) {
    return { ok: false, reason: "BadWindow", message: "endsAt must be after startsAt", field: "body.endsAt" };
  }
  if (i.endsAt.getTime() <= i.now.getTime()) {
    return {
      ok: false,
      reason: "BadWindow",
      message: "endsAt is in the past: the window would never be active",
      field: "body.endsAt",
    };
  }
  if (i.endsAt.getTime() - i.startsAt.getTime() > MAX_DELEGATION_MS) {
    return {
      ok: false,
      reason: "BadWindow",
      message: "a delegation window can last at most one year",
      field: "body.endsAt",
    };
  }
  return { ok: true, forOther: !exactOwn };
}
