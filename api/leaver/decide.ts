// The leaver rules, pure: who the leaver is (the identifiers their Orders carry), which assets
// they hold, the Deprovision Order for each (deterministic names: the fan-out is idempotent),
// and the per-asset outcome read back from those Orders' phases.
import { createHash } from "node:crypto";

export type Subject = {
  /** "employee:<uuid>" or "identifier:<identifier>": one open leaver event per key. */
  leaverKey: string;
  employeeId: string | null;
  /** Lower-cased: userName, employee number, externalId, SCIM id (an Order's requester.id). */
  ids: string[];
  /** Lower-cased e-mail addresses (an Order's requester.email). */
  emails: string[];
  displayName: string | null;
};

export type KnownEmployee = {
  id: string;
  userName: string;
  externalId: string | null;
  employeeNumber: string | null;
  emails: string[];
  displayName: string | null;
};

export function subjectOfEmployee(e: KnownEmployee): Subject {
  const ids = [e.userName, e.employeeNumber, e.externalId, e.id]
    .filter((x): x is string => typeof x === "string" && x !== "")
    .map((x) => x.toLowerCase());
  const emails = [...e.emails, ...(e.userName.includes("@") ? [e.userName] : [])].map((x) => x.toLowerCase());
  return {
    leaverKey: `employee:${e.id}`,
    employeeId: e.id,
    ids: [...new Set(ids)],
    emails: [...new Set(emails)],
    displayName: e.displayName,
  };
}

/** An identifier HR sent for someone SCIM never provisioned: match Orders on it directly. */
export function subjectOfIdentifier(identifier: string): Subject {
  const v = identifier.trim().toLowerCase();
  return {
    leaverKey: `identifier:${v}`,
    employeeId: null,
    ids: [v],
    emails: v.includes("@") ? [v] : [],
    displayName: null,
  };
}

/** The slice of an Order the rules read. */
export type OrderView = {
  name: string;
  assetType: string;
  action: "Provision" | "Modify" | "Deprovision";
  target?: string;
  requester: { id: string; email: string };
  phase?: string;
  message?: string;
  cancelRequested?: boolean;
  /** A Failed Provision whose steps ran (crds/order-cleanup.ts): it may have granted something. */
  needsCleanup?: boolean;
};

/**
 * What the leaver holds: Provisioned assets, and Failed provisions that may have granted
 * something (a step ran, #19), so nobody keeps half-granted access.
 */
export function isHeldBy(o: OrderView, s: Subject): boolean {
  if (o.action !== "Provision") return false;
  if (o.phase !== "Provisioned" && !(o.phase === "Failed" && o.needsCleanup === true)) return false;
  return s.ids.includes(o.requester.id.toLowerCase()) || s.emails.includes(o.requester.email.toLowerCase());
}

/**
 * The subject's Provision Orders not yet running (PendingApproval, Scheduled, or not yet
 * observed): a leaver's pending order is cancelled (spec.cancelRequested), never delivered.
 */
export function pendingOrdersOf(orders: readonly OrderView[], s: Subject): string[] {
  return orders
    .filter(
      (o) =>
        o.action === "Provision" &&
        !o.cancelRequested &&
        (o.phase === undefined || o.phase === "PendingApproval" || o.phase === "Scheduled") &&
        (s.ids.includes(o.requester.id.toLowerCase()) || s.emails.includes(o.requester.email.toLowerCase())),
    )
    .map((o) => o.name)
    .sort();
}

/** Kubernetes object names: DNS subdomain, at most 253 characters. */
// Order names are label values on their Jobs (the CRD caps them at 63 characters).
const MAX_NAME = 63;

/**
 * `<target>-deprovision` (the contract every revoke path shares), `-deprovision-<n>` for the
 * n-th retry; hashed when it would pass 253 characters.
 */
export function deprovisionOrderName(target: string, attempt = 1): string {
  const suffix = attempt <= 1 ? "-deprovision" : `-deprovision-${attempt}`;
  const name = `${target}${suffix}`;
  if (name.length <= MAX_NAME) return name;
  const h = createHash("sha256").update(target).digest("hex").slice(0, 10);
  return `${target.slice(0, MAX_NAME - suffix.length - 11).replace(/[-.]+$/, "")}-${h}${suffix}`;
}

export type PlannedDeprovision = {
  target: string;
  assetType: string;
  orderName: string;
  /** The Deprovision Order already exists (e.g. an earlier revoke): nothing to create. */
  alreadyQueued: boolean;
};

/** Every asset the subject holds, and the Deprovision Order that reclaims each. */
export function planFanout(orders: readonly OrderView[], s: Subject): PlannedDeprovision[] {
  const byName = new Map(orders.map((o) => [o.name, o]));
  return orders
    .filter((o) => isHeldBy(o, s))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((o) => {
      const orderName = deprovisionOrderName(o.name);
      return { target: o.name, assetType: o.assetType, orderName, alreadyQueued: byName.has(orderName) };
    });
}

export type Outcome = "queued" | "inProgress" | "revoked" | "failed" | "cancelled";

/** What a Deprovision Order's phase means for the leaver's per-asset outcome. */
export function outcomeOf(order: OrderView | undefined, createError: string | null): Outcome {
  if (createError !== null) return "failed";
  if (!order) return "failed"; // created once, gone now (deleted by someone)
  switch (order.phase) {
    case "Revoked":
      return "revoked";
    case "Failed":
      return "failed";
    case "Cancelled":
      return "cancelled";
    case "Processing":
      return "inProgress";
    default:
      return "queued";
  }
}

export function isRetryable(o: Outcome): boolean {
  return o === "failed" || o === "cancelled";
}

export function summarise(outcomes: readonly Outcome[]): Record<Outcome, number> & { total: number } {
  const s = { queued: 0, inProgress: 0, revoked: 0, failed: 0, cancelled: 0, total: outcomes.length };
  for (const o of outcomes) s[o]++;
  return s;
}

/** A leaver event takes effect now or at its (future) effective date. */
export function effectiveAt(requested: Date | undefined, now: Date): Date {
  return requested && requested.getTime() > now.getTime() ? requested : now;
}
