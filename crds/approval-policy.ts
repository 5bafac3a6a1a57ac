// Who counts as an approver of an Order under its AssetType's `spec.approval`: the one source of
// truth for the API (which decides who may append to `spec.approvals`, api/policy/approvals.ts)
// and the operator (which decides the phase from those entries, operator/order/decide.ts). Pure
// data rules about the two CRDs, like the phase machine in `reasons.ts`, so both processes and
// their pure modules import it without crossing into each other.
//
// Matching is exact: a listed entry is a person when it equals (trimmed, case-insensitive) one
// of the person's own names: their account's username or one of their e-mail addresses. No
// e-mail local parts: `bert@other.example` is not the listed `bert`, and the listed
// `bert@example.com` is not `bert@other.example`. (Separation of duties may match loosely,
// because there a false match refuses; here a false match would grant.)

export type ApprovalPolicy = {
  policy: "None" | "Manager" | "Approvers";
  approvers?: readonly string[] | undefined;
  quorum?: number | undefined;
};
export type Requester = { id: string; email: string; manager?: string | undefined };

export const normName = (s: string): string => s.trim().toLowerCase();

/** Whether two names are the same name (exact, ignoring case and surrounding spaces). */
export function isSameExactName(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normName(a) === normName(b);
}

/** The listed names whose decisions count: the named approvers, or the requester's manager. */
export function eligibleEntries(policy: ApprovalPolicy, requester: Requester): string[] {
  if (policy.policy === "Approvers") return [...(policy.approvers ?? [])];
  if (policy.policy === "Manager") return requester.manager ? [requester.manager] : [];
  return [];
}

/**
 * The listed entries a person known by `names` (their username and e-mail addresses) decides
 * as, in list order; empty when they are not an approver of this policy.
 */
export function entriesOf(listed: readonly string[], names: readonly (string | undefined)[]): string[] {
  const own = new Set(names.filter((n): n is string => !!n && n.trim() !== "").map(normName));
  return listed.filter((l) => own.has(normName(l)));
}

/** Whether an approval entry names the requester (nobody approves their own order). */
export function isRequesterName(approver: string, requester: Requester): boolean {
  return isSameExactName(approver, requester.id) || isSameExactName(approver, requester.email);
}

/**
 * Whether one entry of `Order.spec.approvals` counts under this policy: its approver is one of
 * the eligible entries (exactly) and not the requester. The API writes the listed entry it
 * matched (`entriesOf`), so what it accepts is exactly what the operator counts.
 */
export function countsAsApproval(approver: string, policy: ApprovalPolicy, requester: Requester): boolean {
  return (
    entriesOf(eligibleEntries(policy, requester), [approver]).length > 0 &&
    !isRequesterName(approver, requester)
  );
}

/** `AssetType.spec.approval.onModify` (crds/assettypes.yaml): which policy a Modify Order needs. */
export type ModifyApprovalPolicy = {
  policy: "Same" | "None" | "Manager" | "Approvers";
  approvers?: readonly string[] | undefined;
  quorum?: number | undefined;
};
export type ApprovalSpec = ApprovalPolicy & { onModify?: ModifyApprovalPolicy | undefined };

/**
 * The policy an Order of this action must satisfy: Provision the type's own; Modify its
 * `onModify` (`Same`, the default, is the provisioning policy); Deprovision none (taking access
 * back, on revoke or for a leaver, never waits for an approver: the gate is for granting).
 */
export function policyForAction(
  approval: ApprovalSpec,
  action: "Provision" | "Modify" | "Deprovision" | undefined,
): ApprovalPolicy {
  if (action === "Deprovision") return { policy: "None" };
  const m = action === "Modify" ? approval.onModify : undefined;
  const own = m?.policy;
  if (own === "None") return { policy: "None" };
  if (own === "Manager" || own === "Approvers")
    return { policy: own, approvers: m?.approvers, quorum: m?.quorum };
  return { policy: approval.policy, approvers: approval.approvers, quorum: approval.quorum };
}

/**
 * The approval entry the API's scheduler appends when an Order's approval expires
 * (`spec.approval.expireAfter`): the operator then fails the Order with reason ApprovalExpired,
 * and the API refuses any later decision. Not a person's name (no listed approver matches it).
 */
export const EXPIRY_APPROVER = "system:approvals";

/**
 * Whom an Order still waits for under its policy (shown as "waiting for" by the API's order
 * views and `kubectl ipsolis get orders`): the eligible entries that have not approved yet
 * (never the requester), and how many more approvals the quorum needs. Undefined when nothing
 * is awaited: no approval needed, a counted decline, the approval expired, or the quorum is met.
 * Counts exactly what the operator counts (`countsAsApproval`).
 */
export function awaitedApprovals(
  policy: ApprovalPolicy,
  requester: Requester,
  approvals: readonly { approver: string; decision: string }[],
): { approvers: string[]; needed: number } | undefined {
  if (policy.policy === "None") return undefined;
  if (approvals.some((a) => a.approver === EXPIRY_APPROVER)) return undefined;
  const votes = approvals.filter((a) => countsAsApproval(a.approver, policy, requester));
  if (votes.some((a) => a.decision === "Declined")) return undefined;
  const approved = new Set(votes.filter((a) => a.decision === "Approved").map((a) => normName(a.approver)));
  const quorum = policy.policy === "Manager" ? 1 : Math.max(1, policy.quorum ?? 1);
  const needed = quorum - approved.size;
  if (needed <= 0) return undefined;
  const seen = new Set<string>();
  const approvers = eligibleEntries(policy, requester).filter((e) => {
    const n = normName(e);
    if (approved.has(n) || seen.has(n) || isRequesterName(e, requester)) return false;
    seen.add(n);
    return true;
  });
  return { approvers, needed };
}
