// Whom an Order waiting for approval is announced to, and which outcome its requester is told
// (issue #17). Pure: the notifier (api/notify/approval-requests.ts) gathers the Order, its
// AssetType's policy, the approvers' e-mail addresses and the delegations, and writes what this
// returns to the outbox. Eligibility is the rule the decision path and the operator use
// (crds/approval-policy.ts): a message goes exactly to those whose decision would count.
import { eligibleEntries, entriesOf, normName, type ApprovalPolicy } from "../../crds/approval-policy.ts";

export type RecipientRole = "approver" | "deputy" | "escalation" | "reassigned";

export type Recipient = {
  /** Lower-case e-mail address the message goes to. */
  email: string;
  role: RecipientRole;
  /** The listed entry this person's decision counts as. */
  approverKey: string;
  /** The name the person's one-click link decides as (the listed entry, or their own e-mail). */
  linkApprover: string;
};

export type DelegationWindow = {
  principal: string;
  deputy: string;
  startsAt: Date;
  endsAt: Date;
  /** The principal's other exact names (account username / e-mail). */
  principalAliases?: readonly string[] | undefined;
};

export type RecipientInput = {
  policy: ApprovalPolicy;
  requester: { id: string; email: string; manager?: string | undefined };
  /** Entries already on `spec.approvals` (decided keys get nothing more). */
  decided: readonly string[];
  /** Listed entry → the person's e-mail (undefined when the directory has none: skipped). */
  emailOf: ReadonlyMap<string, string | undefined>;
  /** Deputy name → e-mail (a deputy named by e-mail maps to itself). */
  deputyEmailOf: ReadonlyMap<string, string | undefined>;
  delegations: readonly DelegationWindow[];
  now: Date;
};

const isEmail = (s: string) => /^[^@\s]+@[^@\s]+$/.test(s.trim());

/** The listed entries whose decision is still open (not decided, not the requester). */
export function openApproverKeys(i: Pick<RecipientInput, "policy" | "requester" | "decided">): string[] {
  const decided = new Set(i.decided.map(normName));
  const requester = [i.requester.email, i.requester.id].map(normName);
  const out: string[] = [];
  for (const k of eligibleEntries(i.policy, i.requester)) {
    const n = normName(k);
    if (decided.has(n) || requester.includes(n) || out.some((x) => normName(x) === n)) continue;
    out.push(k);
  }
  return out;
}

/**
 * Everyone who should hold an approval request now: each open listed approver (by their
 * e-mail), and each deputy of one inside an active delegation window. A person reachable twice
 * (listed, and deputy of another) gets one message, as the listed approver. Nobody is the
 * requester: a requester named as deputy or approver gets nothing (they could not approve).
 */
export function approvalRecipients(i: RecipientInput): Recipient[] {
  const out = new Map<string, Recipient>();
  const requester = [i.requester.email, i.requester.id].map(normName);
  const add = (r: Recipient) => {
    const e = normName(r.email);
    if (!isEmail(e) || requester.includes(e) || out.has(e)) return;
    out.set(e, { ...r, email: e });
  };
  const keys = openApproverKeys(i);
  for (const k of keys) {
    const email = i.emailOf.get(k) ?? (isEmail(k) ? k : undefined);
    if (email) add({ email, role: "approver", approverKey: k, linkApprover: k });
  }
  const t = i.now.getTime();
  for (const d of i.delegations) {
    if (d.startsAt.getTime() > t || t >= d.endsAt.getTime()) continue;
    const forKeys = entriesOf(keys, [d.principal, ...(d.principalAliases ?? [])]);
    const k = forKeys[0];
    if (k === undefined) continue;
    const email = i.deputyEmailOf.get(d.deputy) ?? (isEmail(d.deputy) ? d.deputy : undefined);
    if (email) add({ email, role: "deputy", approverKey: k, linkApprover: normName(email) });
  }
  return [...out.values()];
}

/**
 * Who gets an escalated request in an open approver's place: the asset type's `escalateTo`
 * group when set, else that approver's manager from SCIM. Never the requester, never someone
 * already holding the request.
 */
export function escalationRecipients(i: {
  openKeys: readonly string[];
  escalateTo: readonly string[];
  managerEmailOf: ReadonlyMap<string, string | undefined>;
  requester: { id: string; email: string };
  alreadyHolding: readonly string[];
}): Recipient[] {
  const out = new Map<string, Recipient>();
  const skip = new Set([i.requester.email, i.requester.id, ...i.alreadyHolding].map(normName));
  for (const k of i.openKeys) {
    const targets = i.escalateTo.length > 0 ? i.escalateTo : [i.managerEmailOf.get(k)];
    for (const t of targets) {
      if (!t || !isEmail(t)) continue;
      const e = normName(t);
      if (skip.has(e) || out.has(e)) continue;
      out.set(e, { email: e, role: "escalation", approverKey: k, linkApprover: e });
    }
  }
  return [...out.values()];
}

/** What happens to one leaver's open place on an approval request. */
export type LeaverPlace =
  | { key: string; kind: "ToManager"; to: Recipient }
  | { key: string; kind: "RemainingApprovers"; remaining: string[] }
  | { key: string; kind: "Nobody"; why: string };

/**
 * A listed approver (or the requester's manager) who became a leaver cannot decide any more:
 * each of their open places goes to the remaining listed approvers when those can still reach
 * the quorum (nobody new is asked), else to the leaver's manager (an active one, with an
 * e-mail, not the requester), whose decision then counts as the leaver's. Pure: the scheduler
 * (api/notify/approval-requests.ts) gathers who left and their managers.
 */
export function leaverReassignment(i: {
  policy: ApprovalPolicy;
  openKeys: readonly string[];
  /** The open keys whose person is a leaver now. */
  leavers: readonly string[];
  /** Leaver keys whose place was already dealt with (their earlier audit row): no second move. */
  handled?: readonly string[] | undefined;
  /** How many more approvals the quorum needs (awaitedApprovals). */
  needed: number;
  /** Leaver key → their active manager's e-mail (undefined: none, or not active). */
  managerEmailOf: ReadonlyMap<string, string | undefined>;
  requester: { id: string; email: string };
  alreadyHolding: readonly string[];
}): LeaverPlace[] {
  const gone = new Set(i.leavers.map(normName));
  const remaining = i.openKeys.filter((k) => !gone.has(normName(k)));
  const needed = i.needed;
  const skip = new Set([i.requester.email, i.requester.id, ...i.alreadyHolding].map(normName));
  const out: LeaverPlace[] = [];
  const handled = new Set((i.handled ?? []).map(normName));
  for (const key of i.leavers) {
    if (handled.has(normName(key))) continue;
    if (i.policy.policy === "Approvers" && remaining.length >= needed) {
      out.push({ key, kind: "RemainingApprovers", remaining });
      continue;
    }
    const m = i.managerEmailOf.get(key);
    if (!m || !isEmail(m)) {
      out.push({
        key,
        kind: "Nobody",
        why: "the leaver has no active manager with an e-mail address in the directory",
      });
      continue;
    }
    const e = normName(m);
    if (skip.has(e)) {
      out.push({
        key,
        kind: "Nobody",
        why:
          e === normName(i.requester.email) || e === normName(i.requester.id)
            ? "the leaver's manager is the requester, who cannot approve"
            : "the leaver's manager already holds this request",
      });
      continue;
    }
    skip.add(e);
    out.push({
      key,
      kind: "ToManager",
      to: { email: e, role: "reassigned", approverKey: key, linkApprover: e },
    });
  }
  return out;
}

export type Outcome = "Approved" | "Provisioned" | "Failed" | "Declined" | "Revoked" | "ApprovalExpired";

export type OutcomeInput = {
  action?: string | undefined;
  phase?: string | undefined;
  conditions?: readonly {
    type: string;
    status: string;
    reason?: string;
    message?: string;
    lastTransitionTime?: string;
  }[];
  steps?: readonly { name: string; state: string; message?: string }[];
  approvals?: readonly { approver: string; decision: string; comment?: string }[];
};

/**
 * The outcomes an Order has reached that its requester is told about, each with its detail
 * (the step's error, the decline comment) and when it happened. Approved is an outcome only for
 * Orders that waited for an approval (QuorumReached); Cancelled is not (the requester did it).
 * Deprovision Orders tell nothing: the Provision Order's Revoked does.
 */
export function outcomesOf(o: OutcomeInput): { outcome: Outcome; detail?: string; at?: string }[] {
  if (o.action === "Deprovision") return [];
  const cond = (type: string) => o.conditions?.find((c) => c.type === type);
  const approved = cond("Approved");
  const ready = cond("Ready");
  const out: { outcome: Outcome; detail?: string; at?: string }[] = [];
  if (approved?.status === "True" && approved.reason === "QuorumReached")
    out.push({
      outcome: "Approved",
      ...(approved.lastTransitionTime ? { at: approved.lastTransitionTime } : {}),
    });
  const at = ready?.lastTransitionTime ? { at: ready.lastTransitionTime } : {};
  if (o.phase === "Provisioned") out.push({ outcome: "Provisioned", ...at });
  else if (o.phase === "Revoked") out.push({ outcome: "Revoked", ...at });
  else if (o.phase === "Failed") {
    if (ready?.reason === "ApprovalExpired") {
      out.push({ outcome: "ApprovalExpired", ...(ready.message ? { detail: ready.message } : {}), ...at });
    } else if (ready?.reason === "Declined") {
      const d = o.approvals?.find((a) => a.decision === "Declined");
      const detail = d ? `${d.approver}${d.comment ? `: ${d.comment}` : ""}` : ready.message;
      out.push({ outcome: "Declined", ...(detail ? { detail } : {}), ...at });
    } else if (ready?.reason === "NotApproved") {
      out.push({ outcome: "Declined", ...(ready.message ? { detail: ready.message } : {}), ...at });
    } else {
      const step = o.steps?.find((s) => s.state === "Failed");
      const detail = step ? `${step.name}: ${step.message ?? "failed"}` : ready?.message;
      out.push({ outcome: "Failed", ...(detail ? { detail } : {}), ...at });
    }
  }
  return out;
}

/** Outcomes older than this when first seen are not mailed (a first start on an old namespace). */
export const OUTCOME_NOTICE_WINDOW_MS = 7 * 24 * 3600_000;

export function isRecentOutcome(at: string | undefined, now: Date): boolean {
  if (at === undefined) return true;
  const t = Date.parse(at);
  return Number.isNaN(t) || now.getTime() - t <= OUTCOME_NOTICE_WINDOW_MS;
}

/** Longest delegation window: a year (longer is a standing grant, a policy change). */
export const MAX_DELEGATION_WINDOW_MS = 366 * 24 * 3600_000;

/** Whether a delegation window is real: ends after it starts, not already over, at most a year. */
export function checkDelegationWindow(
  startsAt: Date,
  endsAt: Date,
  now: Date,
): { ok: true } | { ok: false; message: string } {
  if (Number.isNaN(startsAt.getTime()) || Number.isNaN(endsAt.getTime()))
    return { ok: false, message: "startsAt and endsAt must be dates" };
  if (endsAt.getTime() <= startsAt.getTime()) return { ok: false, message: "endsAt must be after startsAt" };
  if (endsAt.getTime() <= now.getTime())
    return { ok: false, message: "endsAt is in the past: the window would never be active" };
  if (endsAt.getTime() - startsAt.getTime() > MAX_DELEGATION_WINDOW_MS)
    return { ok: false, message: "a delegation window can last at most one year" };
  return { ok: true };
}
