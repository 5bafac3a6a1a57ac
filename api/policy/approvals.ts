// Who may approve or decline an Order, and separation of duties. Pure: the route gathers the
// Order, its AssetType, the delegations and the audit rows, and acts on the answer.

export const SOD_ACTIONS = ["asset_type_created", "asset_type_updated", "asset_type_cloned"] as const;

export type Approver = {
  username?: string | undefined;
  email?: string | undefined;
  /**
   * The person's other names from the admin-account directory (the account's username and
   * e-mail), so an approver known by e-mail is matched to audit rows of their username.
   */
  aliases?: readonly string[] | undefined;
};
export type Delegation = { principal: string; deputy: string; startsAt: Date; endsAt: Date };
export type AuditRowRef = { id: string; action: string; actor: string; at: Date };
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

/** The names a person goes by: admin username, e-mail, e-mail local part. */
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

/**
 * Whether an audit actor (`admin:<username>`, `user:<email>`, `token:<name>`) is this person,
 * matched by e-mail, e-mail local part or admin username.
 */
export function isSamePerson(actor: string, a: Approver): boolean {
  const id = actor.includes(":") ? actor.slice(actor.indexOf(":") + 1) : actor;
  const names = namesOf(a);
  return names.has(norm(id)) || names.has(norm(localPart(id)));
}

/** Two names of one person: equal, or one is the other's e-mail local part. */
export function isSameName(a: string, b: string): boolean {
  const x = norm(a);
  const y = norm(b);
  return x === y || norm(localPart(x)) === y || x === norm(localPart(y));
}

function eligibleFor(policy: ApprovalInput["policy"], manager: string | undefined): string[] {
  if (policy.kind === "Approvers") return policy.approvers;
  if (policy.kind === "Manager") return manager ? [manager] : [];
  return [];
}

export function checkApproval(i: ApprovalInput): ApprovalDecision {
  if (i.order.phase !== undefined && i.order.phase !== "PendingApproval") {
    return {
      ok: false,
      reason: "NotPending",
      message: `the order is ${i.order.phase}, not pending approval`,
    };
  }
  const names = namesOf(i.approver);
  const listed = eligibleFor(i.policy, i.order.manager);
  let key = listed.find((l) => names.has(norm(l)));
  let viaDeputy = false;
  if (key === undefined) {
    const t = i.now.getTime();
    const d = i.delegations.find(
      (x) =>
        names.has(norm(x.deputy)) &&
        x.startsAt.getTime() <= t &&
        t < x.endsAt.getTime() &&
        listed.some((l) => isSameName(l, x.principal)),
    );
    if (d) {
      key = listed.find((l) => isSameName(l, d.principal));
      viaDeputy = true;
    }
  }
  if (key === undefined) {
    return {
      ok: false,
      reason: "NotApprover",
      message: "you are not an approver of this order (nor a deputy of one)",
    };
  }
  const k = key;
  if (i.order.approvals.some((a) => norm(a.approver) === norm(k))) {
    return { ok: false, reason: "AlreadyDecided", message: `${k} has already decided on this order` };
  }
  if (i.decision === "Declined") return { ok: true, approverKey: k, viaDeputy };
  if (names.has(norm(i.order.requesterEmail))) {
    return { ok: false, reason: "SelfApproval", message: "nobody approves their own order" };
  }
  const row = i.assetTypeChanges.find((r) => isSamePerson(r.actor, i.approver));
  if (row) {
    return {
      ok: false,
      reason: "SeparationOfDuties",
      message: `separation of duties: you changed this asset type (audit row ${row.id}: ${row.action} by ${row.actor} at ${row.at.toISOString()}); another approver must decide`,
      row,
    };
  }
  const byIssuer = i.issuer && i.assetTypeChanges.find((r) => isSamePerson(r.actor, i.issuer!));
  if (byIssuer) {
    return {
      ok: false,
      reason: "SeparationOfDuties",
      message: `separation of duties: this approval link was issued by ${i.issuer!.actor}, who changed this asset type (audit row ${byIssuer.id}: ${byIssuer.action} by ${byIssuer.actor} at ${byIssuer.at.toISOString()}); another approver must decide`,
      row: byIssuer,
    };
  }
  return { ok: true, approverKey: k, viaDeputy };
}
