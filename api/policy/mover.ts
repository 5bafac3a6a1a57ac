// The mover rules, pure: which fields of a person's employee record an asset type's attributes
// follow (`fromEmployee` in crds/assettypes.yaml), what changed in a SCIM write, and, for each
// asset the person holds, the Modify Order that brings its attributes up to date. The reads and
// writes are in api/mover/; the order-time filling is in api/policy/attributes.ts.
import { createHash } from "node:crypto";

/** The employee record's fields an attribute can follow (the CRD's `fromEmployee` enum). */
export const EMPLOYEE_FIELDS = [
  "department",
  "title",
  "manager",
  "displayName",
  "employeeNumber",
  "costCenter",
  "userName",
  "email",
] as const;
export type EmployeeField = (typeof EMPLOYEE_FIELDS)[number];

/** A person's record as attributes see it: "" where the record has no value. */
export type EmployeeFacts = Record<EmployeeField, string>;

/** The record's columns (record/employees) plus the title and the manager's userName. */
export type FactsInput = {
  userName: string;
  displayName: string | null;
  employeeNumber: string | null;
  emails: readonly string[];
  department: string | null;
  costCenter: string | null;
  resource: Record<string, unknown>;
};

export function factsOf(e: FactsInput, managerUserName: string | null): EmployeeFacts {
  const title = typeof e.resource.title === "string" ? e.resource.title : "";
  return {
    department: e.department ?? "",
    title,
    manager: managerUserName ?? "",
    displayName: e.displayName ?? "",
    employeeNumber: e.employeeNumber ?? "",
    costCenter: e.costCenter ?? "",
    userName: e.userName,
    email: e.emails[0] ?? "",
  };
}

export type FactChange = { from: string; to: string };

/** The fields whose value differs, with old and new value (a mover's "what changed"). */
export function changedFacts(
  before: EmployeeFacts,
  after: EmployeeFacts,
): Partial<Record<EmployeeField, FactChange>> {
  const out: Partial<Record<EmployeeField, FactChange>> = {};
  for (const f of EMPLOYEE_FIELDS) if (before[f] !== after[f]) out[f] = { from: before[f], to: after[f] };
  return out;
}

/**
 * Two changes of one pending mover merged: each field keeps its first `from` and takes the
 * newest `to`; a field changed back to where it started drops out.
 */
export function mergeChanges(
  older: Partial<Record<EmployeeField, FactChange>>,
  newer: Partial<Record<EmployeeField, FactChange>>,
): Partial<Record<EmployeeField, FactChange>> {
  const out: Partial<Record<EmployeeField, FactChange>> = { ...older };
  for (const f of EMPLOYEE_FIELDS) {
    const n = newer[f];
    if (!n) continue;
    const from = older[f]?.from ?? n.from;
    if (from === n.to) delete out[f];
    else out[f] = { from, to: n.to };
  }
  return out;
}

/** One attribute definition, as far as following the record goes. */
export type FollowingDef = { name: string; fromEmployee?: EmployeeField | undefined };

/** The attributes (by name) that follow the record, with the record's value ("" = none). */
export function followedValues(
  defs: readonly FollowingDef[] | undefined,
  facts: EmployeeFacts,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of defs ?? []) if (d.fromEmployee) out[d.name] = facts[d.fromEmployee];
  return out;
}

/** The slice of an Order the mover reads. */
export type MoverOrder = {
  name: string;
  assetType: string;
  action: "Provision" | "Modify" | "Deprovision";
  target?: string | undefined;
  requester: { id: string; email: string };
  phase?: string | undefined;
  /** Provision Orders: the asset's current (non-secret) attribute values. */
  attributes?: Record<string, string> | undefined;
};

/** The slice of an AssetType the mover reads. */
export type MoverType = { attributes?: readonly FollowingDef[] | undefined; hasModifyRunbook: boolean };

export type PlannedModify = {
  target: string;
  assetType: string;
  /** The full new set of (non-secret) values: the current ones with the followed ones replaced. */
  values: Record<string, string>;
  changed: string[];
};

export type MoverPlan = {
  modify: PlannedModify[];
  /** Held assets whose followed attributes already have the record's values. */
  unchanged: string[];
  /** Held assets that follow a changed field but whose type has no modify runbook. */
  noModifyRunbook: string[];
  /**
   * Assets to look at again later: a provision still running (it finishes with the values it
   * was ordered with), or a change or revoke open on it.
   */
  waiting: string[];
  /**
   * Provisions waiting for approval: they will run with the values they were ordered with, so
   * the event waits for them (like `waiting`) and changes them once they are Provisioned.
   */
  pendingApproval: string[];
};

const OPEN: ReadonlySet<string | undefined> = new Set([
  undefined,
  "PendingApproval",
  "Scheduled",
  "Processing",
]);

function isSubjects(o: MoverOrder, s: { ids: readonly string[]; emails: readonly string[] }): boolean {
  return s.ids.includes(o.requester.id.toLowerCase()) || s.emails.includes(o.requester.email.toLowerCase());
}

/**
 * For every Provision Order of the person whose type follows one of `fields`: the Modify that
 * sets the followed attributes to the record's values, or why none is made now. An empty value
 * is left out of the new set (the runbook clears the attribute).
 */
export function planMover(
  orders: readonly MoverOrder[],
  types: ReadonlyMap<string, MoverType>,
  subject: { ids: readonly string[]; emails: readonly string[] },
  fields: readonly EmployeeField[],
  facts: EmployeeFacts,
): MoverPlan {
  const plan: MoverPlan = {
    modify: [],
    unchanged: [],
    noModifyRunbook: [],
    waiting: [],
    pendingApproval: [],
  };
  const changing = new Set(fields);
  const openOn = new Set(
    orders.filter((o) => o.action !== "Provision" && o.target && OPEN.has(o.phase)).map((o) => o.target!),
  );
  const mine = orders
    .filter((o) => o.action === "Provision" && isSubjects(o, subject))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const o of mine) {
    const t = types.get(o.assetType);
    const follows = (t?.attributes ?? []).filter((d) => d.fromEmployee && changing.has(d.fromEmployee));
    if (!t || follows.length === 0) continue;
    if (o.phase === "PendingApproval") {
      plan.pendingApproval.push(o.name);
      continue;
    }
    if (o.phase === undefined || o.phase === "Scheduled" || o.phase === "Processing") {
      plan.waiting.push(o.name);
      continue;
    }
    if (o.phase !== "Provisioned") continue;
    // A change or revoke open on it first: its values are about to change, so comparing with
    // them now could call a revert "unchanged" while the open change still applies the old move.
    if (openOn.has(o.name)) {
      plan.waiting.push(o.name);
      continue;
    }
    const current = o.attributes ?? {};
    const values: Record<string, string> = { ...current };
    for (const d of t.attributes ?? []) {
      if (!d.fromEmployee) continue;
      const v = facts[d.fromEmployee];
      if (v === "") delete values[d.name];
      else values[d.name] = v;
    }
    const names = [...new Set([...Object.keys(current), ...Object.keys(values)])].sort();
    const changed = names.filter((k) => current[k] !== values[k]);
    if (changed.length === 0) {
      plan.unchanged.push(o.name);
      continue;
    }
    if (!t.hasModifyRunbook) {
      plan.noModifyRunbook.push(o.name);
      continue;
    }
    plan.modify.push({ target: o.name, assetType: o.assetType, values, changed });
  }
  return plan;
}

/**
 * The Modify Order a mover makes for one asset: `<target>-mv-<10 hex of event, version and
 * target>`, at most 63 characters, so a rerun of the same change creates nothing twice.
 */
export function moverOrderName(eventId: string, version: number, target: string): string {
  const h = createHash("sha256").update(`${eventId}:${version}:${target}`).digest("hex").slice(0, 10);
  return `${target.slice(0, 63 - 14).replace(/[.-]+$/, "")}-mv-${h}`;
}

/** "department Sales → Finance, title (none) → Lead": a change in one line, for reasons and mail. */
export function describeChanges(changes: Partial<Record<EmployeeField, FactChange>>): string {
  const show = (v: string) => (v === "" ? "(none)" : v);
  return EMPLOYEE_FIELDS.filter((f) => changes[f])
    .map((f) => `${f} ${show(changes[f]!.from)} → ${show(changes[f]!.to)}`)
    .join(", ");
}
