// Pure: the history rows an Order object implies. Level-triggered: derived from the object
// alone (never from the watch event type), keyed so that writing them twice is a no-op.
import type { Order } from "../crds/generated/order.ts";

export type OrderRow = {
  uid: string;
  namespace: string;
  name: string;
  assetType: string;
  action: string;
  target: string | null;
  requesterId: string | null;
  requesterEmail: string | null;
  phase: string | null;
  attempt: number;
  jobName: string | null;
  provisionedAt: string | null;
  revokedAt: string | null;
  createdAt: string | null;
  resourceVersion: string | null;
  spec: unknown;
  status: unknown;
};

/** Key (orderUid, phase, attempt). */
export type PhaseRow = {
  orderUid: string;
  phase: string;
  attempt: number;
  at: string;
  jobName: string | null;
  message: string | null;
};

/** Key (orderUid, approver, decision, at). */
export type ApprovalRow = {
  orderUid: string;
  approver: string;
  decision: string;
  at: string;
  comment: string | null;
};

/** Key (orderUid, attempt, step). */
export type StepRunRow = {
  orderUid: string;
  attempt: number;
  step: string;
  state: string;
  attempts: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  message: string | null;
};

export type HistoryRows = {
  order: OrderRow;
  phases: PhaseRow[];
  approvals: ApprovalRow[];
  steps: StepRunRow[];
};

/**
 * The time a phase was reached, from the best evidence the object carries: provisionedAt /
 * revokedAt for those phases, else the newest condition transition, else when we saw it.
 */
export function phaseTime(o: Order, observedAt: Date): string {
  const s = o.status ?? {};
  if (s.phase === "Provisioned" && s.provisionedAt) return s.provisionedAt;
  if (s.phase === "Revoked" && s.revokedAt) return s.revokedAt;
  const times = (s.conditions ?? [])
    .map((c) => c.lastTransitionTime)
    .filter((t) => !Number.isNaN(Date.parse(t)))
    .sort();
  return times.at(-1) ?? observedAt.toISOString();
}

/** Returns undefined for an object that is not an Order we can key (no uid or name). */
export function historyRowsOf(o: Order, observedAt: Date): HistoryRows | undefined {
  const uid = o.metadata?.uid;
  const name = o.metadata?.name;
  if (!uid || !name) return undefined;
  const s = o.status ?? {};
  const attempt = s.attempt ?? 0;
  const order: OrderRow = {
    uid,
    namespace: o.metadata?.namespace ?? "",
    name,
    assetType: o.spec.assetType,
    action: o.spec.action ?? "Provision",
    target: o.spec.target ?? null,
    requesterId: o.spec.requester?.id ?? null,
    requesterEmail: o.spec.requester?.email ?? null,
    phase: s.phase ?? null,
    attempt,
    jobName: s.jobName ?? null,
    provisionedAt: s.provisionedAt ?? null,
    revokedAt: s.revokedAt ?? null,
    createdAt: o.metadata?.creationTimestamp ? new Date(o.metadata.creationTimestamp).toISOString() : null,
    resourceVersion: o.metadata?.resourceVersion ?? null,
    spec: o.spec,
    status: s,
  };
  const phases: PhaseRow[] = s.phase
    ? [
        {
          orderUid: uid,
          phase: s.phase,
          attempt,
          at: phaseTime(o, observedAt),
          jobName: s.jobName ?? null,
          message: s.message ?? null,
        },
      ]
    : [];
  const approvals: ApprovalRow[] = (o.spec.approvals ?? []).map((a) => ({
    orderUid: uid,
    approver: a.approver,
    decision: a.decision,
    at: a.at,
    comment: a.comment ?? null,
  }));
  const steps: StepRunRow[] = s.phase
    ? (s.steps ?? []).map((st) => ({
        orderUid: uid,
        attempt,
        step: st.name,
        state: st.state,
        attempts: st.attempts ?? null,
        startedAt: st.startedAt ?? null,
        finishedAt: st.finishedAt ?? null,
        exitCode: st.exitCode ?? null,
        message: st.message ?? null,
      }))
    : [];
  return { order, phases, approvals, steps };
}

/** snake_case audit action of a phase transition: `PendingApproval` → `order_pending_approval`. */
export function phaseAction(phase: string): string {
  return `order_${phase.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()}`;
}

/**
 * Folds newer rows into rows still waiting to be written: the newest snapshot wins for the
 * order and step runs; phases and approvals accumulate (each one is history).
 */
export function mergeRows(older: HistoryRows | undefined, newer: HistoryRows): HistoryRows {
  if (!older) return newer;
  const byKey = <T>(list: T[], key: (x: T) => string) => {
    const m = new Map<string, T>();
    for (const x of list) if (!m.has(key(x))) m.set(key(x), x);
    return [...m.values()];
  };
  return {
    order: isNewer(older.order.resourceVersion, newer.order.resourceVersion) ? older.order : newer.order,
    phases: byKey([...older.phases, ...newer.phases], (p) => `${p.phase}/${p.attempt}`),
    approvals: byKey([...older.approvals, ...newer.approvals], (a) => `${a.approver}/${a.decision}/${a.at}`),
    steps: byKey([...newer.steps, ...older.steps], (s) => `${s.attempt}/${s.step}`),
  };
}

/** True when resourceVersion `a` is newer than `b` (etcd revisions are numeric in practice). */
function isNewer(a: string | null, b: string | null): boolean {
  if (a === null || b === null || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) > BigInt(b);
}
