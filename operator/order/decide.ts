// The Order state machine: a pure function from what the reconciler observed to the next status
// and the actions that get there. No I/O; the time comes in as `now`. This function is the only
// author of `status.phase`, and it refuses (throws, as a bug) any transition not in TRANSITIONS.
//
// Each rule is a small check returning a reason and a message (cert-manager style); the phase
// handlers chain them in order.
import type {
  AssetType,
  Condition,
  ConditionStatus,
  Order,
  OrderStatus,
  Phase,
  Runbook,
  StepStatus,
} from "./model.ts";
import { jobNameFor } from "./names.ts";

/** The Job of the current attempt, as the reconciler sees it in its cache. */
export type JobSeen =
  | { state: "Absent" }
  | { state: "Running" }
  | { state: "Succeeded"; steps?: StepStatus[] }
  | { state: "Failed"; reason?: string; message?: string; steps?: StepStatus[] };

/**
 * The asset lock (a Lease). A lock whose holder Order is gone or no longer Processing is stale:
 * the reconciler reports it as `Free` so the next AcquireLock takes it over.
 */
export type LockSeen = { state: "Free" } | { state: "HeldBySelf" } | { state: "HeldByOther"; holder: string };

/** CapacityPooled asset types only: this Order's slot, a free one, and the requester's count. */
export type PoolSeen = { held?: string; free?: string; heldByRequester: number };

/** The target Provision Order of a Modify or Deprovision Order. */
export type TargetSeen = { found: false } | { found: true; phase?: Phase };

export type Observed = {
  order: Order;
  assetType?: AssetType;
  /** The Runbook the AssetType names for this Order's action, when it exists. */
  runbook?: Runbook;
  job: JobSeen;
  lock: LockSeen;
  pool?: PoolSeen;
  target?: TargetSeen;
  /** A Deprovision Order that targets this one and has finished (phase Revoked). */
  revokedBy?: { order: string; revokedAt?: string };
  now: Date;
};

export type EventType = "Normal" | "Warning";
export type Action =
  | { kind: "AcquireLock" }
  | { kind: "ReleaseLock" }
  | { kind: "AllocateSlot"; slot: string }
  | { kind: "ReleaseSlot"; slot: string }
  | { kind: "CreateJob"; attempt: number; jobName: string }
  | { kind: "MarkTargetRevoked"; target: string }
  | { kind: "Emit"; type: EventType; reason: string; note: string };

export type Decision = { status: OrderStatus; actions: Action[] };

/** Every allowed phase change; "New" is an Order without a phase yet. */
export const TRANSITIONS: Record<Phase | "New", readonly Phase[]> = {
  New: ["PendingApproval", "Scheduled", "Processing", "Failed", "Cancelled"],
  PendingApproval: ["Scheduled", "Processing", "Failed", "Cancelled"],
  Scheduled: ["Processing", "Failed", "Cancelled"],
  Processing: ["Provisioned", "Failed", "Revoked"],
  Provisioned: ["Revoked"],
  Failed: [],
  Cancelled: [],
  Revoked: [],
};

export function isAllowedTransition(from: Phase | undefined, to: Phase): boolean {
  return from === to || TRANSITIONS[from ?? "New"].includes(to);
}

/** Ready reasons that are failures: their Events are Warnings. */
const WARNING_REASONS = new Set([
  "Declined",
  "StepFailed",
  "DeadlineExceeded",
  "JobFailed",
  "TargetNotFound",
  "TargetNotProvisioned",
  "MaxPerUserExceeded",
  "RunbookNotConfigured",
  "CancelRefused",
]);

type Outcome = {
  phase: Phase;
  /** Ready's reason and message: why the Order is where it is. */
  reason: string;
  message: string;
  actions: Action[];
  /** Extra status fields this step sets (attempt, jobName, steps, timestamps, asset). */
  patch?: Partial<OrderStatus>;
  locked?: { holder: string };
};

type Check = { reason: string; message: string };

// ---------------------------------------------------------------------------------------------
// Small checks

type ApprovalState =
  | { state: "NotRequired" | "Approved"; message: string }
  | { state: "Pending"; message: string }
  | { state: "Declined"; message: string };

const same = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();

/** Approvals by the requester themselves never count (separation of duties). */
export function checkApproval(order: Order, assetType: AssetType): ApprovalState {
  const policy = assetType.spec.approval;
  if (policy.policy === "None") return { state: "NotRequired", message: "no approval is required" };
  const req = order.spec.requester;
  const isRequester = (who: string) => same(who, req.id) || same(who, req.email);
  const eligible =
    policy.policy === "Manager"
      ? (who: string) => same(who, req.manager)
      : (who: string) => (policy.approvers ?? []).some((a) => same(a, who));
  const votes = (order.spec.approvals ?? []).filter((a) => eligible(a.approver) && !isRequester(a.approver));
  const decline = votes.find((a) => a.decision === "Declined");
  if (decline) return { state: "Declined", message: `declined by ${decline.approver}` };
  const approvers = new Set(
    votes.filter((a) => a.decision === "Approved").map((a) => a.approver.toLowerCase()),
  );
  if (policy.policy === "Manager") {
    if (!req.manager) return { state: "Pending", message: "the requester has no manager to approve" };
    return approvers.size > 0
      ? { state: "Approved", message: `approved by the manager ${req.manager}` }
      : { state: "Pending", message: `waiting for the manager ${req.manager} to approve` };
  }
  const quorum = Math.max(1, policy.quorum ?? 1);
  return approvers.size >= quorum
    ? { state: "Approved", message: `approved by ${[...approvers].sort().join(", ")}` }
    : { state: "Pending", message: `${approvers.size} of ${quorum} required approvals` };
}

function runbookNameFor(order: Order, at: AssetType): string | undefined {
  const action = order.spec.action ?? "Provision";
  if (action === "Provision") return at.spec.runbooks.provision;
  return action === "Modify" ? at.spec.runbooks.modify : at.spec.runbooks.deprovision;
}

function checkRunbook(o: Observed, at: AssetType): { wait?: Check; fail?: Check } {
  const name = runbookNameFor(o.order, at);
  const action = o.order.spec.action ?? "Provision";
  if (!name) {
    return {
      fail: {
        reason: "RunbookNotConfigured",
        message: `asset type ${at.metadata.name} has no ${action.toLowerCase()} runbook`,
      },
    };
  }
  if (!o.runbook)
    return { wait: { reason: "RunbookNotFound", message: `waiting for runbook ${name} to exist` } };
  return {};
}

function checkTarget(o: Observed): { wait?: Check; fail?: Check } {
  const action = o.order.spec.action ?? "Provision";
  if (action === "Provision") return {};
  const name = o.order.spec.target;
  if (!name || !o.target || !o.target.found) {
    return {
      fail: { reason: "TargetNotFound", message: `the target order ${name ?? "(none)"} does not exist` },
    };
  }
  const phase = o.target.phase;
  if (phase === "Provisioned") return {};
  if (phase === "Failed" || phase === "Cancelled" || phase === "Revoked") {
    return {
      fail: {
        reason: "TargetNotProvisioned",
        message: `the target order ${name} is ${phase}, so there is nothing to ${action.toLowerCase()}`,
      },
    };
  }
  return {
    wait: { reason: "TargetNotReady", message: `waiting for the target order ${name} to be Provisioned` },
  };
}

function checkPool(o: Observed, at: AssetType): { wait?: Check; fail?: Check } {
  if (!isPooledProvision(o, at) || o.pool?.held) return {};
  const max = at.spec.assignment.maxPerUser;
  const mine = o.pool?.heldByRequester ?? 0;
  if (max !== undefined && mine >= max) {
    return {
      fail: {
        reason: "MaxPerUserExceeded",
        message: `${o.order.spec.requester.id} already holds ${mine} of at most ${max} ${at.metadata.name}`,
      },
    };
  }
  if (!o.pool?.free) {
    return {
      wait: { reason: "PoolExhausted", message: `all ${at.spec.assignment.capacity ?? 0} slots are in use` },
    };
  }
  return {};
}

function isPooledProvision(o: Observed, at: AssetType | undefined): boolean {
  return (
    at?.spec.assignment.model === "CapacityPooled" && (o.order.spec.action ?? "Provision") === "Provision"
  );
}

/** The first failed critical step's error, else the Job's own reason. */
function failureOf(o: Observed, job: Extract<JobSeen, { state: "Failed" }>): Check {
  const critical = new Set(
    (o.runbook?.spec.steps ?? []).filter((s) => s.critical !== false).map((s) => s.name),
  );
  const failed =
    job.steps?.find((s) => s.state === "Failed" && (critical.size === 0 || critical.has(s.name))) ??
    job.steps?.find((s) => s.state === "Failed");
  if (failed) {
    const detail =
      failed.message ?? (failed.exitCode !== undefined ? `exit code ${failed.exitCode}` : "failed");
    return { reason: "StepFailed", message: `step ${failed.name} failed: ${detail}` };
  }
  if (job.reason === "DeadlineExceeded") {
    return { reason: "DeadlineExceeded", message: "the run exceeded its deadline and was stopped" };
  }
  return { reason: "JobFailed", message: `the run failed${job.message ? `: ${job.message}` : ""}` };
}

/** Merges the runner's summary into the planned steps, keeping the Runbook's order. */
function mergeSteps(
  planned: StepStatus[] | undefined,
  seen: StepStatus[] | undefined,
): StepStatus[] | undefined {
  if (!seen || seen.length === 0) return planned;
  const byName = new Map(seen.map((s) => [s.name, s]));
  const base = planned ?? [];
  const merged = base.map((p) => byName.get(p.name) ?? p);
  for (const s of seen) if (!base.some((p) => p.name === s.name)) merged.push(s);
  return merged;
}

// ---------------------------------------------------------------------------------------------
// Phase handlers

const stay = (o: Observed, reason: string, message: string, actions: Action[] = []): Outcome => ({
  phase: o.order.status?.phase ?? "PendingApproval",
  reason,
  message,
  actions,
});

function cancel(o: Observed, held: string | undefined): Outcome {
  return {
    phase: "Cancelled",
    reason: "Cancelled",
    message: "cancelled at the requester's request before processing started",
    actions: held ? [{ kind: "ReleaseSlot", slot: held }] : [],
  };
}

/** New and PendingApproval: wait for the AssetType and the approvals. */
function beforeApproval(o: Observed): Outcome {
  if (o.order.spec.cancelRequested) return cancel(o, undefined);
  if (!o.assetType) {
    return {
      phase: "PendingApproval",
      reason: "AssetTypeNotFound",
      message: `waiting for asset type ${o.order.spec.assetType} to exist`,
      actions: [],
    };
  }
  const approval = checkApproval(o.order, o.assetType);
  if (approval.state === "Declined") {
    return { phase: "Failed", reason: "Declined", message: `the order was ${approval.message}`, actions: [] };
  }
  if (approval.state === "Pending") {
    return { phase: "PendingApproval", reason: "AwaitingApproval", message: approval.message, actions: [] };
  }
  return schedule(o, o.assetType);
}

/** Scheduled: everything a run needs, then the lock; then Processing. */
function schedule(o: Observed, at: AssetType): Outcome {
  if (o.order.spec.cancelRequested) return cancel(o, undefined);
  const waitIn = (c: Check): Outcome => ({ phase: "Scheduled", ...c, actions: [] });
  const failWith = (c: Check): Outcome => ({ phase: "Failed", ...c, actions: [] });
  for (const check of [checkRunbook(o, at), checkTarget(o), checkPool(o, at)]) {
    if (check.fail) return failWith(check.fail);
    if (check.wait) return waitIn(check.wait);
  }
  if (o.lock.state === "HeldByOther") {
    return {
      ...waitIn({
        reason: "AssetBusy",
        message: `waiting for order ${o.lock.holder}, which is running on the same asset`,
      }),
      locked: { holder: o.lock.holder },
    };
  }
  const attempt = (o.order.status?.attempt ?? 0) + 1;
  const jobName = jobNameFor(o.order.metadata.name, attempt);
  const actions: Action[] = [];
  if (o.lock.state !== "HeldBySelf") actions.push({ kind: "AcquireLock" });
  const slot = isPooledProvision(o, at) ? (o.pool?.held ?? o.pool?.free) : undefined;
  if (slot && !o.pool?.held) actions.push({ kind: "AllocateSlot", slot });
  actions.push({ kind: "CreateJob", attempt, jobName });
  return {
    phase: "Processing",
    reason: "Processing",
    message: `running ${o.runbook?.metadata.name ?? "the runbook"} in job ${jobName}`,
    actions,
    patch: {
      attempt,
      jobName,
      steps: (o.runbook?.spec.steps ?? []).map((s) => ({ name: s.name, state: "Pending", attempts: 0 })),
      ...(slot ? { asset: { id: slot } } : {}),
    },
  };
}

function processing(o: Observed): Outcome {
  const st = o.order.status ?? {};
  const attempt = st.attempt ?? 1;
  const jobName = st.jobName ?? jobNameFor(o.order.metadata.name, attempt);
  const action = o.order.spec.action ?? "Provision";
  const releases: Action[] = [{ kind: "ReleaseLock" }];
  switch (o.job.state) {
    case "Absent":
    case "Running": {
      // Level-triggered: an absent Job is (re)created under the same name, so a restart between
      // the status write and the create never makes a second Job for one attempt.
      const actions: Action[] = [];
      if (o.lock.state === "Free") actions.push({ kind: "AcquireLock" });
      if (o.job.state === "Absent") {
        if (!o.runbook)
          return stay(o, "RunbookNotFound", `job ${jobName} is gone and its runbook does not exist`);
        actions.push({ kind: "CreateJob", attempt, jobName });
      }
      return stay(o, "Processing", `running job ${jobName}`, actions);
    }
    case "Succeeded": {
      const steps = mergeSteps(st.steps, o.job.steps);
      const at = o.now.toISOString();
      if (action === "Deprovision") {
        const target = o.order.spec.target ?? "";
        return {
          phase: "Revoked",
          reason: "Revoked",
          message: `the asset of order ${target} was taken back`,
          actions: [...releases, { kind: "MarkTargetRevoked", target }],
          patch: { steps, revokedAt: at },
        };
      }
      const asset = st.asset ?? { id: `${o.order.spec.assetType}/${o.order.spec.requester.id}` };
      return {
        phase: "Provisioned",
        reason: "Provisioned",
        message:
          action === "Modify"
            ? `the change to order ${o.order.spec.target ?? ""} was delivered`
            : "the asset was delivered",
        actions: releases,
        patch: { steps, provisionedAt: at, asset },
      };
    }
    case "Failed": {
      const why = failureOf(o, o.job);
      const slot = isPooledProvision(o, o.assetType) ? st.asset?.id : undefined;
      return {
        phase: "Failed",
        ...why,
        actions: slot ? [...releases, { kind: "ReleaseSlot", slot }] : releases,
        patch: { steps: mergeSteps(st.steps, o.job.steps) },
      };
    }
  }
}

function provisioned(o: Observed): Outcome {
  const slot = o.pool?.held;
  if (o.revokedBy) {
    return {
      phase: "Revoked",
      reason: "Revoked",
      message: `access was taken back by order ${o.revokedBy.order}`,
      actions: slot ? [{ kind: "ReleaseSlot", slot }] : [],
      patch: { revokedAt: o.revokedBy.revokedAt ?? o.now.toISOString() },
    };
  }
  // Clean up a lock left behind by a restart between the release and the status write.
  return stay(
    o,
    "Provisioned",
    "the asset was delivered",
    o.lock.state === "HeldBySelf" ? [{ kind: "ReleaseLock" }] : [],
  );
}

function finished(o: Observed, phase: "Failed" | "Cancelled" | "Revoked"): Outcome {
  const prev = o.order.status?.conditions?.find((c) => c.type === "Ready");
  const actions: Action[] = [];
  if (o.lock.state === "HeldBySelf") actions.push({ kind: "ReleaseLock" });
  if (o.pool?.held) actions.push({ kind: "ReleaseSlot", slot: o.pool.held });
  return {
    phase,
    reason: prev?.reason ?? phase,
    message: prev?.message ?? o.order.status?.message ?? `the order is ${phase}`,
    actions,
  };
}

function next(o: Observed): Outcome {
  const phase = o.order.status?.phase;
  switch (phase) {
    case undefined:
    case "PendingApproval":
      return beforeApproval(o);
    case "Scheduled":
      return o.assetType
        ? schedule(o, o.assetType)
        : o.order.spec.cancelRequested
          ? cancel(o, undefined)
          : stay(o, "AssetTypeNotFound", `waiting for asset type ${o.order.spec.assetType} to exist`);
    case "Processing":
      return processing(o);
    case "Provisioned":
      return provisioned(o);
    case "Failed":
    case "Cancelled":
    case "Revoked":
      return finished(o, phase);
  }
}

// ---------------------------------------------------------------------------------------------
// Conditions

type NewCondition = Omit<Condition, "lastTransitionTime">;

/** `lastTransitionTime` changes only when `status` flips (STYLE.md). */
export function setCondition(list: Condition[], c: NewCondition, now: Date): Condition[] {
  const prev = list.find((x) => x.type === c.type);
  const same = prev !== undefined && prev.status === c.status;
  const next: Condition = { ...c, lastTransitionTime: same ? prev.lastTransitionTime : now.toISOString() };
  return prev ? list.map((x) => (x.type === c.type ? next : x)) : [...list, next];
}

function approvedCondition(
  o: Observed,
): { status: ConditionStatus; reason: string; message: string } | undefined {
  if (!o.assetType) return undefined;
  const a = checkApproval(o.order, o.assetType);
  switch (a.state) {
    case "NotRequired":
      return { status: "True", reason: "ApprovalNotRequired", message: a.message };
    case "Approved":
      return { status: "True", reason: "Approved", message: a.message };
    case "Declined":
      return { status: "False", reason: "Declined", message: a.message };
    case "Pending":
      return { status: "Unknown", reason: "AwaitingApproval", message: a.message };
  }
}

const TERMINAL: ReadonlySet<Phase> = new Set(["Failed", "Cancelled", "Revoked"]);

/** The pure outcome of one reconcile. */
export function decide(o: Observed): Decision {
  const from = o.order.status?.phase;
  const out = next(o);
  if (!isAllowedTransition(from, out.phase)) {
    // A bug in the handlers above, never an outcome: refuse to write it.
    throw new Error(`illegal order transition ${from ?? "New"} → ${out.phase}`);
  }
  const gen = o.order.metadata.generation;
  const prev = o.order.status ?? {};
  let conds = prev.conditions ?? [];
  const put = (type: string, status: ConditionStatus, reason: string, message: string) => {
    conds = setCondition(conds, { type, status, reason, message, observedGeneration: gen }, o.now);
  };
  // Ready says what the user got, computed from the phase in the same write: a Failed or
  // Revoked order can never keep a stale Ready=True.
  put("Ready", out.phase === "Provisioned" ? "True" : "False", out.reason, out.message);
  put("Reconciled", "True", "ReconcileSucceeded", "the last reconcile succeeded");
  const approved = approvedCondition(o);
  if (approved && !(TERMINAL.has(out.phase) && conds.some((c) => c.type === "Approved"))) {
    put("Approved", approved.status, approved.reason, approved.message);
  }
  if (out.locked) {
    put("AssetLocked", "True", "AssetBusy", out.message);
  } else if (conds.some((c) => c.type === "AssetLocked") || out.phase === "Processing") {
    const mine = out.phase === "Processing";
    put(
      "AssetLocked",
      "False",
      mine ? "LockHeld" : "AssetFree",
      mine ? "this order holds the asset lock" : "this order is not waiting for the asset",
    );
  }
  const events: Action[] = [];
  if (o.order.spec.cancelRequested && out.phase !== "Cancelled") {
    const msg = `cancellation refused: the order is already ${out.phase}`;
    const before = conds.find((c) => c.type === "CancelRequested");
    put("CancelRequested", "True", "CancelRefused", msg);
    if (before?.reason !== "CancelRefused")
      events.push({ kind: "Emit", type: "Warning", reason: "CancelRefused", note: msg });
  } else if (out.phase === "Cancelled") {
    put("CancelRequested", "True", "Cancelled", out.message);
  }

  const status: OrderStatus = {
    ...prev,
    ...out.patch,
    phase: out.phase,
    observedGeneration: gen,
    conditions: conds,
    message: out.message,
  };
  const prevReady = prev.conditions?.find((c) => c.type === "Ready");
  if (from !== out.phase || prevReady?.reason !== out.reason) {
    events.unshift({
      kind: "Emit",
      type: WARNING_REASONS.has(out.reason) ? "Warning" : "Normal",
      reason: out.reason,
      note: from !== out.phase ? `${from ?? "New"} → ${out.phase}: ${out.message}` : out.message,
    });
  }
  return { status, actions: [...out.actions, ...events] };
}

/**
 * A reconcile that failed permanently or keeps failing: `Reconciled=False` with the error, and
 * Ready recomputed from the phase, so a stale Ready=True cannot survive a phase that says otherwise.
 */
export function decideReconcileError(order: Order, message: string, now: Date): Decision {
  const prev = order.status ?? {};
  const gen = order.metadata.generation;
  let conds = prev.conditions ?? [];
  const ready = conds.find((c) => c.type === "Ready");
  if (ready && ready.status === "True" && prev.phase !== "Provisioned") {
    conds = setCondition(
      conds,
      { ...ready, status: "False", reason: prev.phase ?? "Pending", observedGeneration: gen },
      now,
    );
  }
  conds = setCondition(
    conds,
    { type: "Reconciled", status: "False", reason: "ReconcileFailed", message, observedGeneration: gen },
    now,
  );
  const before = prev.conditions?.find((c) => c.type === "Reconciled");
  const changed = before?.status !== "False" || before.message !== message;
  return {
    status: { ...prev, conditions: conds },
    actions: changed ? [{ kind: "Emit", type: "Warning", reason: "ReconcileFailed", note: message }] : [],
  };
}
