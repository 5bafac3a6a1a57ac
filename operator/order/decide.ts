// The Order state machine: a pure function from what the reconciler observed to the next status
// and the actions that get there. No I/O; the time comes in as `now`. This function is the only
// author of `status.phase`, and it refuses (throws, as a bug) any transition the CRD's table
// (crds/reasons.ts) does not allow.
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
import type { EventReason, OrderConditionReasons, OrderConditionType } from "../../crds/reasons.ts";
import { countsAsApproval, EXPIRY_APPROVER, policyForAction } from "../../crds/approval-policy.ts";
import { isAllowedPhaseChange, orderInitialPhases, orderPhaseTransitions } from "../../crds/reasons.ts";
import { jobNameFor } from "./names.ts";

/** The Job of the current attempt, as the reconciler sees it in its cache. */
export type JobSeen =
  | { state: "Absent" }
  | { state: "Running" }
  | { state: "Succeeded"; steps?: StepStatus[] }
  | {
      state: "Failed";
      reason?: string;
      message?: string;
      steps?: StepStatus[];
      /** The runner's own run message (its termination summary), e.g. why kinit failed before any step. */
      runMessage?: string;
    };

/**
 * The asset lock (a Lease). A lock whose holder Order is gone or no longer Processing is stale:
 * the reconciler reports it as `Free` so the next AcquireLock takes it over.
 */
export type LockSeen = { state: "Free" } | { state: "HeldBySelf" } | { state: "HeldByOther"; holder: string };

/** CapacityPooled asset types only: this Order's slot, a free one, and the requester's count. */
export type PoolSeen = { held?: string; free?: string; heldByRequester: number };

/** The target Provision Order of a Modify or Deprovision Order. */
export type TargetSeen = { found: false } | { found: true; phase?: Phase; needsCleanup?: boolean };

export type Observed = {
  order: Order;
  assetType?: AssetType;
  /** The Runbook the AssetType names for this Order's action, when it exists. */
  runbook?: Runbook;
  job: JobSeen;
  lock: LockSeen;
  pool?: PoolSeen;
  target?: TargetSeen;
  /**
   * Provision Orders: the newest Modify Order that targets this one and succeeded (Provisioned),
   * if any: its attributes are the asset's values now (#19). A running or failed one is not it.
   */
  modified?: { order: string; attributes: Record<string, string>; at?: string };
  /** The newest Deprovision Order that targets this one, if any. */
  deprovision?: { order: string; phase?: Phase; revokedAt?: string };
  /**
   * Creating this attempt's Job was refused for good (a runbook reading an unlabelled Secret,
   * a secret-attributes Secret that is missing or not this Order's): the reconcile decides again
   * with the reason, and the Order ends Failed instead of retrying the same refusal.
   */
  startRefused?: string;
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
  | { kind: "MarkTargetModified"; target: string }
  /** The Secret of spec.secretAttributesFrom goes once the Order finished (#15 item 4). */
  | { kind: "DeleteSecretAttributes"; secretName: string }
  | { kind: "Emit"; type: EventType; reason: EventReason; note: string };

export type Decision = { status: OrderStatus; actions: Action[] };

/**
 * Every allowed phase change; "New" is an Order without a phase yet. This is the CRD's own table
 * (crds/reasons.ts `orderPhaseTransitions`, which the CEL rule on status.phase in
 * crds/orders.yaml spells out and crds/transitions.test.ts compares): one table, so the
 * operator can never want a move the API server refuses, nor the reverse.
 */
export const TRANSITIONS: Record<Phase | "New", readonly Phase[]> = {
  New: orderInitialPhases,
  ...orderPhaseTransitions,
};

export function isAllowedTransition(
  from: Phase | undefined,
  to: Phase,
  action: Order["spec"]["action"] = "Provision",
): boolean {
  return isAllowedPhaseChange(from, to, action);
}

type R = OrderConditionReasons;
/** One condition an outcome sets besides Ready, typed so a reason goes only with its own type. */
type CondSpec = {
  [T in Exclude<OrderConditionType, "Ready">]: {
    type: T;
    status: ConditionStatus;
    reason: R[T];
    message: string;
  };
}[Exclude<OrderConditionType, "Ready">];

type Outcome = {
  phase: Phase;
  /** Ready's reason and message: why the Order is where it is. */
  reason: R["Ready"];
  message: string;
  actions: Action[];
  /** Extra status fields this step sets (attempt, jobName, steps, timestamps, asset). */
  patch?: Partial<OrderStatus>;
  /** Other conditions this step sets (Reconciled defaults to True). */
  conds?: CondSpec[];
};

type Check = { message: string; cond?: CondSpec; failed?: boolean };

// ---------------------------------------------------------------------------------------------
// Small checks, each returning a message and the condition that says why

type ApprovalState = {
  state: "NotRequired" | "Approved" | "Pending" | "Declined" | "Expired";
  message: string;
};

/**
 * Which entries of `spec.approvals` count: exactly the listed approvers (or the manager), never
 * the requester. The rule is `crds/approval-policy.ts`, the same one the API decides with.
 */
export function checkApproval(order: Order, assetType: AssetType): ApprovalState {
  const action = order.spec.action ?? "Provision";
  const policy = policyForAction(assetType.spec.approval, action);
  if (policy.policy === "None") {
    // Taking access back (revoke, leaver) never waits for an approver: the approval gate is for
    // granting. A Deprovision that sat in PendingApproval would leave a leaver's access in place.
    if (action === "Deprovision")
      return { state: "NotRequired", message: "taking access back needs no approval" };
    return {
      state: "NotRequired",
      message: action === "Modify" ? "no approval is required for a change" : "no approval is required",
    };
  }
  // The API's approval scheduler expired it (spec.approval.expireAfter): nothing after counts.
  const expired = (order.spec.approvals ?? []).find((a) => a.approver === EXPIRY_APPROVER);
  if (expired) return { state: "Expired", message: expired.comment ?? "the approval expired" };
  const req = order.spec.requester;
  const votes = (order.spec.approvals ?? []).filter((a) => countsAsApproval(a.approver, policy, req));
  const decline = votes.find((a) => a.decision === "Declined");
  if (decline) return { state: "Declined", message: `declined by ${decline.approver}` };
  const approvers = new Set(
    votes.filter((a) => a.decision === "Approved").map((a) => a.approver.trim().toLowerCase()),
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

function approvedCondition(a: ApprovalState): CondSpec {
  const reason = (
    {
      NotRequired: "ApprovalNotRequired",
      Approved: "QuorumReached",
      Pending: "AwaitingApproval",
      Declined: "Declined",
      Expired: "ApprovalExpired",
    } as const
  )[a.state];
  const status =
    a.state === "Declined" || a.state === "Expired" ? "False" : a.state === "Pending" ? "Unknown" : "True";
  return { type: "Approved", status, reason, message: a.message };
}

function runbookNameFor(order: Order, at: AssetType): string | undefined {
  const action = order.spec.action ?? "Provision";
  if (action === "Provision") return at.spec.runbooks.provision;
  return action === "Modify" ? at.spec.runbooks.modify : at.spec.runbooks.deprovision;
}

function checkRunbook(o: Observed, at: AssetType): Check | undefined {
  const name = runbookNameFor(o.order, at);
  if (!name) {
    const message = `asset type ${at.metadata.name} has no ${(o.order.spec.action ?? "Provision").toLowerCase()} runbook`;
    return {
      message,
      failed: true,
      cond: { type: "Reconciled", status: "False", reason: "InvalidSpec", message },
    };
  }
  if (o.runbook) return undefined;
  const message = `waiting for runbook ${name} to exist`;
  return { message, cond: { type: "Reconciled", status: "False", reason: "RunbookNotFound", message } };
}

/**
 * A secret attribute's value never sits in spec.attributes (#15 item 4): the API puts it in a
 * Secret named by spec.secretAttributesFrom; an Order written by hand with it in the spec fails
 * before any Job could see it. The Secret itself is checked when the Job is made (actions.ts).
 */
function checkSecretAttributes(o: Observed, at: AssetType): Check | undefined {
  if (o.startRefused) {
    const message = `the run was not started: ${o.startRefused}`;
    return {
      message,
      failed: true,
      cond: { type: "Reconciled", status: "False", reason: "InvalidSpec", message },
    };
  }
  const secret = new Set((at.spec.attributes ?? []).filter((a) => a.secret).map((a) => a.name));
  const inSpec = Object.keys(o.order.spec.attributes ?? {}).filter((k) => secret.has(k));
  if (inSpec.length === 0) return undefined;
  const many = inSpec.length > 1;
  const message = `attribute${many ? "s" : ""} ${inSpec.join(", ")} of asset type ${at.metadata.name} ${many ? "are" : "is"} secret: the value belongs in a Secret named by spec.secretAttributesFrom, never in spec.attributes; no Job is started`;
  return {
    message,
    failed: true,
    cond: { type: "Reconciled", status: "False", reason: "InvalidSpec", message },
  };
}

function checkTarget(o: Observed): Check | undefined {
  const action = o.order.spec.action ?? "Provision";
  if (action === "Provision") return undefined;
  const name = o.order.spec.target;
  if (!name || !o.target?.found) {
    const message = `the target order ${name ?? "(none)"} does not exist`;
    return {
      message,
      failed: true,
      cond: { type: "Reconciled", status: "False", reason: "TargetNotFound", message },
    };
  }
  const phase = o.target.phase;
  if (phase === "Provisioned") return undefined;
  // A Failed Provision whose steps ran may have granted something: a Deprovision cleans it up.
  if (phase === "Failed" && action === "Deprovision" && o.target.needsCleanup) return undefined;
  if (phase === "Failed" || phase === "Cancelled" || phase === "Revoked") {
    const message = `the target order ${name} is ${phase}, so there is nothing to ${action.toLowerCase()}`;
    return {
      message,
      failed: true,
      cond: { type: "Reconciled", status: "False", reason: "InvalidSpec", message },
    };
  }
  return { message: `waiting for the target order ${name} to be Provisioned` };
}

function isPooledProvision(o: Observed, at: AssetType | undefined): boolean {
  return (
    at?.spec.assignment.model === "CapacityPooled" && (o.order.spec.action ?? "Provision") === "Provision"
  );
}

function checkPool(o: Observed, at: AssetType): Check | undefined {
  if (!isPooledProvision(o, at) || o.pool?.held) return undefined;
  const max = at.spec.assignment.maxPerUser;
  const mine = o.pool?.heldByRequester ?? 0;
  if (max !== undefined && mine >= max) {
    const message = `${o.order.spec.requester.id} already holds ${mine} of at most ${max} ${at.metadata.name}`;
    return {
      message,
      failed: true,
      cond: { type: "AssetAllocated", status: "False", reason: "MaxPerUserReached", message },
    };
  }
  if (o.pool?.free) return undefined;
  const message = `all ${at.spec.assignment.capacity ?? 0} slots of ${at.metadata.name} are in use`;
  return { message, cond: { type: "AssetAllocated", status: "False", reason: "PoolExhausted", message } };
}

function checkLock(o: Observed): Check | undefined {
  if (o.lock.state !== "HeldByOther") return undefined;
  const message = `waiting for order ${o.lock.holder}, which is running on the same asset`;
  return { message, cond: { type: "AssetLocked", status: "True", reason: "AssetBusy", message } };
}

/** The first failed critical step's error, else the Job's own reason. */
function failureOf(
  o: Observed,
  job: Extract<JobSeen, { state: "Failed" }>,
): { message: string; cond: CondSpec } {
  const critical = new Set(
    (o.runbook?.spec.steps ?? []).filter((s) => s.critical !== false).map((s) => s.name),
  );
  const failed =
    job.steps?.find((s) => s.state === "Failed" && (critical.size === 0 || critical.has(s.name))) ??
    job.steps?.find((s) => s.state === "Failed");
  if (failed) {
    const detail =
      failed.message ?? (failed.exitCode !== undefined ? `exit code ${failed.exitCode}` : "failed");
    const message = `step ${failed.name} failed: ${detail}`;
    return { message, cond: { type: "JobReady", status: "False", reason: "JobFailed", message } };
  }
  if (job.reason === "DeadlineExceeded") {
    const message = "the run exceeded its deadline and was stopped";
    return { message, cond: { type: "JobReady", status: "False", reason: "JobDeadlineExceeded", message } };
  }
  // No step failed (a setup error such as kinit skipped them all): the runner's reason says
  // more than the Job controller's "reached the specified backoff limit".
  const why = job.runMessage ?? job.message;
  const message = `the run failed${why ? `: ${why}` : ""}`;
  return { message, cond: { type: "JobReady", status: "False", reason: "JobFailed", message } };
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

function plannedSteps(rb: Runbook | undefined): StepStatus[] {
  return (rb?.spec.steps ?? []).map((s) => ({ name: s.name, state: "Pending", attempts: 0 }));
}

// ---------------------------------------------------------------------------------------------
// Phase handlers

function cancel(): Outcome {
  return {
    phase: "Cancelled",
    reason: "Cancelled",
    message: "cancelled at the requester's request before processing started",
    actions: [],
  };
}

function declined(approval: ApprovalState): Outcome {
  return {
    phase: "Failed",
    reason: "Declined",
    message: `the order was ${approval.message}`,
    actions: [],
    conds: [approvedCondition(approval)],
  };
}

function expiredApproval(approval: ApprovalState): Outcome {
  return {
    phase: "Failed",
    reason: "ApprovalExpired",
    message: `the approval expired: ${approval.message}`,
    actions: [],
    conds: [approvedCondition(approval)],
  };
}

function awaitingApproval(approval: ApprovalState): Outcome {
  return {
    phase: "PendingApproval",
    reason: "AwaitingApproval",
    message: approval.message,
    actions: [],
    conds: [approvedCondition(approval)],
  };
}

/** New and PendingApproval: wait for the AssetType and the approvals; then Scheduled. */
function beforeApproval(o: Observed): Outcome {
  if (o.order.spec.cancelRequested) return cancel();
  if (!o.assetType) {
    const message = `waiting for asset type ${o.order.spec.assetType} to exist`;
    return {
      phase: "PendingApproval",
      reason: "Pending",
      message,
      actions: [],
      conds: [{ type: "Reconciled", status: "False", reason: "AssetTypeNotFound", message }],
    };
  }
  const approval = checkApproval(o.order, o.assetType);
  const approved = approvedCondition(approval);
  if (approval.state === "Declined") return declined(approval);
  if (approval.state === "Expired") return expiredApproval(approval);
  if (approval.state === "Pending") return awaitingApproval(approval);
  // The CRD wants Scheduled before Processing: the next reconcile (our own write's event) runs it.
  return {
    phase: "Scheduled",
    reason: "Pending",
    message: `${approval.message}; waiting to run`,
    actions: [],
    conds: [approved],
  };
}

/** Scheduled: everything a run needs, then the lock and the pool slot; then Processing. */
function scheduled(o: Observed): Outcome {
  if (o.order.spec.cancelRequested) return cancel();
  const at = o.assetType;
  if (!at) {
    const message = `waiting for asset type ${o.order.spec.assetType} to exist`;
    return {
      phase: "Scheduled",
      reason: "Pending",
      message,
      actions: [],
      conds: [{ type: "Reconciled", status: "False", reason: "AssetTypeNotFound", message }],
    };
  }
  // Approvals are checked again here, not only on the way in: Scheduled may have been written
  // by someone else (the status subresource), and an attempt must never start on approvals
  // that do not satisfy the policy (#15). A decline ends the Order; missing ones send it back.
  const approval = checkApproval(o.order, at);
  if (approval.state === "Declined") return declined(approval);
  if (approval.state === "Expired") return expiredApproval(approval);
  if (approval.state === "Pending") return awaitingApproval(approval);
  for (const check of [
    checkSecretAttributes(o, at),
    checkRunbook(o, at),
    checkTarget(o),
    checkPool(o, at),
    checkLock(o),
  ]) {
    if (!check) continue;
    return {
      phase: check.failed ? "Failed" : "Scheduled",
      reason: check.failed ? "Failed" : "Pending",
      message: check.message,
      actions: [],
      conds: check.cond ? [check.cond] : [],
    };
  }
  const attempt = (o.order.status?.attempt ?? 0) + 1;
  const jobName = jobNameFor(o.order.metadata.name, attempt);
  const actions: Action[] = [];
  const conds: CondSpec[] = [
    { type: "AssetLocked", status: "False", reason: "AssetFree", message: "this order holds the asset lock" },
    { type: "JobReady", status: "Unknown", reason: "JobCreated", message: `job ${jobName} was created` },
  ];
  if (o.lock.state !== "HeldBySelf") actions.push({ kind: "AcquireLock" });
  const slot = isPooledProvision(o, at) ? (o.pool?.held ?? o.pool?.free) : undefined;
  if (slot) {
    if (!o.pool?.held) actions.push({ kind: "AllocateSlot", slot });
    conds.push({
      type: "AssetAllocated",
      status: "True",
      reason: "Allocated",
      message: `slot ${slot} is allocated`,
    });
  }
  actions.push({ kind: "CreateJob", attempt, jobName });
  return {
    phase: "Processing",
    reason: "Processing",
    message: `running runbook ${o.runbook?.metadata.name ?? ""} in job ${jobName}`,
    actions,
    conds,
    patch: { attempt, jobName, steps: plannedSteps(o.runbook), ...(slot ? { asset: { id: slot } } : {}) },
  };
}

function processing(o: Observed): Outcome {
  const st = o.order.status ?? {};
  const attempt = st.attempt ?? 1;
  const jobName = st.jobName ?? jobNameFor(o.order.metadata.name, attempt);
  const action = o.order.spec.action ?? "Provision";
  const keep = (message: string, actions: Action[]): Outcome => ({
    phase: "Processing",
    reason: "Processing",
    message,
    actions,
  });
  switch (o.job.state) {
    case "Absent":
    case "Running": {
      // Level-triggered: an absent Job is (re)created under the same name, so a restart between
      // the status write and the create never makes a second Job for one attempt.
      const actions: Action[] = [];
      if (o.lock.state === "Free") actions.push({ kind: "AcquireLock" });
      if (o.job.state === "Absent") {
        // No Job yet for this attempt: Processing may have been written by someone else
        // (straight from PendingApproval through Scheduled), so the approvals are checked
        // before anything runs. Nothing has run, so the Order ends Failed without a run.
        const approval = o.assetType ? checkApproval(o.order, o.assetType) : undefined;
        if (approval && approval.state !== "Approved" && approval.state !== "NotRequired") {
          const slot = isPooledProvision(o, o.assetType) ? o.pool?.held : undefined;
          return {
            phase: "Failed",
            reason:
              approval.state === "Declined"
                ? "Declined"
                : approval.state === "Expired"
                  ? "ApprovalExpired"
                  : "NotApproved",
            message: `the run was not started: the order was ${approval.state === "Declined" ? approval.message : `not approved (${approval.message})`}`,
            actions: [
              ...(o.lock.state === "HeldBySelf" ? [{ kind: "ReleaseLock" } as const] : []),
              ...(slot ? [{ kind: "ReleaseSlot", slot } as const] : []),
            ],
            conds: [approvedCondition(approval)],
          };
        }
        const secretInSpec = o.assetType && checkSecretAttributes(o, o.assetType);
        if (secretInSpec) {
          const slot = isPooledProvision(o, o.assetType) ? o.pool?.held : undefined;
          return {
            phase: "Failed",
            reason: "Failed",
            message: secretInSpec.message,
            actions: [
              ...(o.lock.state === "HeldBySelf" ? [{ kind: "ReleaseLock" } as const] : []),
              ...(slot ? [{ kind: "ReleaseSlot", slot } as const] : []),
            ],
            conds: secretInSpec.cond ? [secretInSpec.cond] : [],
          };
        }
        if (!o.runbook) {
          const message = `job ${jobName} is missing and its runbook does not exist`;
          return {
            ...keep(st.message ?? message, actions),
            conds: [{ type: "Reconciled", status: "False", reason: "RunbookNotFound", message }],
          };
        }
        actions.push({ kind: "CreateJob", attempt, jobName });
      }
      const prevReady = st.conditions?.find((c) => c.type === "Ready");
      return keep(prevReady?.reason === "Processing" ? prevReady.message : `running job ${jobName}`, actions);
    }
    case "Succeeded": {
      const steps = mergeSteps(st.steps, o.job.steps);
      const at = o.now.toISOString();
      const jobDone: CondSpec = {
        type: "JobReady",
        status: "True",
        reason: "JobSucceeded",
        message: `job ${jobName} succeeded`,
      };
      if (action === "Deprovision") {
        const target = o.order.spec.target ?? "";
        return {
          phase: "Revoked",
          reason: "Revoked",
          message: `the asset of order ${target} was taken back`,
          actions: [{ kind: "ReleaseLock" }, { kind: "MarkTargetRevoked", target }],
          patch: { steps, revokedAt: at },
          conds: [jobDone],
        };
      }
      return {
        phase: "Provisioned",
        reason: "Provisioned",
        message:
          action === "Modify"
            ? `the change to order ${o.order.spec.target ?? ""} was delivered`
            : "the asset was delivered",
        actions: [
          { kind: "ReleaseLock" },
          // The target shows the new values once it sees this Order Provisioned (its own decide).
          ...(action === "Modify" && o.order.spec.target
            ? [{ kind: "MarkTargetModified", target: o.order.spec.target } as const]
            : []),
        ],
        patch: {
          steps,
          provisionedAt: at,
          asset: st.asset ?? { id: `${o.order.spec.assetType}/${o.order.spec.requester.id}` },
        },
        conds: [jobDone],
      };
    }
    case "Failed": {
      const why = failureOf(o, o.job);
      const slot = isPooledProvision(o, o.assetType) ? (o.pool?.held ?? st.asset?.id) : undefined;
      const actions: Action[] = [{ kind: "ReleaseLock" }];
      if (slot) actions.push({ kind: "ReleaseSlot", slot });
      return {
        phase: "Failed",
        reason: "Failed",
        message: why.message,
        actions,
        patch: { steps: mergeSteps(st.steps, o.job.steps) },
        conds: [why.cond],
      };
    }
  }
}

/**
 * A Provision Order's current attribute values: those of its newest successful Modify Order
 * (#19). Until one succeeds (while it runs, after it fails) the status carries none, and the
 * ordered spec.attributes are the values.
 */
function modifiedPatch(o: Observed): { patch?: Partial<OrderStatus> } {
  const m = o.modified;
  if ((o.order.spec.action ?? "Provision") !== "Provision" || !m) return {};
  const st = o.order.status ?? {};
  if (st.modifiedBy === m.order) return {};
  return {
    patch: {
      attributes: m.attributes,
      modifiedBy: m.order,
      modifiedAt: m.at ?? o.now.toISOString(),
    },
  };
}

function provisioned(o: Observed): Outcome {
  const d = o.deprovision;
  const actions: Action[] = [];
  // A lock left behind by a restart between the release and the status write.
  if (o.lock.state === "HeldBySelf") actions.push({ kind: "ReleaseLock" });
  // Keep the message of the delivery (a Modify says what changed) on later reconciles.
  const prev = o.order.status?.conditions?.find((c) => c.type === "Ready");
  const base: Outcome = {
    phase: "Provisioned",
    reason: "Provisioned",
    message: prev?.reason === "Provisioned" ? prev.message : "the asset was delivered",
    actions,
    ...modifiedPatch(o),
  };
  if (!d) return base;
  if (d.phase === "Revoked") {
    if (o.pool?.held) actions.push({ kind: "ReleaseSlot", slot: o.pool.held });
    const message = `access was taken back by order ${d.order}`;
    return {
      phase: "Revoked",
      reason: "Revoked",
      message,
      actions,
      patch: { revokedAt: d.revokedAt ?? o.now.toISOString() },
      conds: [{ type: "Deprovisioning", status: "True", reason: "DeprovisionSucceeded", message }],
    };
  }
  if (d.phase === "Failed") {
    const message = `deprovision order ${d.order} failed; the asset is still delivered`;
    return {
      ...base,
      conds: [{ type: "Deprovisioning", status: "False", reason: "DeprovisionFailed", message }],
    };
  }
  if (d.phase === "Cancelled") return base;
  const message = `deprovision order ${d.order} is ${d.phase ?? "new"}`;
  return {
    ...base,
    conds: [{ type: "Deprovisioning", status: "Unknown", reason: "DeprovisionRequested", message }],
  };
}

/**
 * Whether a Failed Order may run again: its run failed (a step, the deadline). A decline, a
 * missing approval or a policy refusal (max per user, a bad spec) is not retried (#19).
 */
export function isRetryable(st: OrderStatus): boolean {
  const ready = st.conditions?.find((c) => c.type === "Ready");
  const job = st.conditions?.find((c) => c.type === "JobReady");
  // Its secret attribute values were deleted when it failed (#15 item 4): a new attempt would
  // run without them.
  const secretsGone = st.conditions?.some((c) => c.type === "SecretAttributesDeleted" && c.status === "True");
  return (
    ready?.reason === "Failed" &&
    (job?.reason === "JobFailed" || job?.reason === "JobDeadlineExceeded") &&
    !secretsGone
  );
}

function finished(o: Observed, phase: "Failed" | "Cancelled" | "Revoked"): Outcome {
  const prev = o.order.status?.conditions?.find((c) => c.type === "Ready");
  const kept =
    prev?.reason === "Declined" || prev?.reason === "NotApproved" || prev?.reason === "ApprovalExpired"
      ? prev.reason
      : undefined;
  const actions: Action[] = [];
  if (o.lock.state === "HeldBySelf") actions.push({ kind: "ReleaseLock" });
  if (o.pool?.held) actions.push({ kind: "ReleaseSlot", slot: o.pool.held });
  // A retry request (#19): one new attempt for a run that failed; earlier ones are kept.
  const wanted = o.order.spec.retry ?? 0;
  const answered = o.order.status?.retry ?? 0;
  if (phase === "Failed" && wanted > answered && o.deprovision === undefined) {
    const st = o.order.status ?? {};
    if (isRetryable(st)) {
      const previous = [
        ...(st.previousAttempts ?? []),
        ...(st.jobName ? [{ attempt: st.attempt ?? 1, jobName: st.jobName, message: st.message ?? "" }] : []),
      ];
      return {
        phase: "Scheduled",
        reason: "Pending",
        message: `retry requested after attempt ${st.attempt ?? 1}; waiting to run`,
        actions,
        patch: { retry: wanted, previousAttempts: previous },
      };
    }
    return {
      phase: "Failed",
      reason: kept ?? "Failed",
      message: `${prev?.message ?? "the order failed"} (retry refused: ${
        st.conditions?.some((c) => c.type === "SecretAttributesDeleted" && c.status === "True")
          ? "its secret attribute values were deleted when it failed; order again"
          : "only a failed run can be retried"
      })`,
      actions,
      patch: { retry: wanted },
    };
  }
  // A partial provision cleaned up by its Deprovision Order (#19): nothing is left granted.
  if (phase === "Failed" && o.deprovision?.phase === "Revoked") {
    const message = `the partial provision was cleaned up by order ${o.deprovision.order}`;
    return {
      phase: "Revoked",
      reason: "Revoked",
      message,
      actions,
      patch: { revokedAt: o.deprovision.revokedAt ?? o.now.toISOString() },
      conds: [{ type: "Deprovisioning", status: "True", reason: "DeprovisionSucceeded", message }],
    };
  }
  const reason = (kept ?? phase) satisfies R["Ready"];
  return {
    phase,
    reason,
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
      return scheduled(o);
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
// Conditions and events

type NewCondition = Omit<Condition, "lastTransitionTime">;

/** `lastTransitionTime` changes only when `status` flips (STYLE.md). */
export function setCondition(list: Condition[], c: NewCondition, now: Date): Condition[] {
  const prev = list.find((x) => x.type === c.type);
  const same = prev !== undefined && prev.status === c.status;
  const next: Condition = { ...c, lastTransitionTime: same ? prev.lastTransitionTime : now.toISOString() };
  return prev ? list.map((x) => (x.type === c.type ? next : x)) : [...list, next];
}

const CANCEL_REFUSED = "cancellation refused";

/** The pure outcome of one reconcile. */
export function decide(o: Observed): Decision {
  const from = o.order.status?.phase;
  const out = next(o);
  if (!isAllowedTransition(from, out.phase, o.order.spec.action ?? "Provision")) {
    // A bug in the handlers above, never an outcome: refuse to write it.
    throw new Error(`illegal order transition ${from ?? "New"} → ${out.phase}`);
  }
  const gen = o.order.metadata.generation;
  const prev = o.order.status ?? {};
  let conds = prev.conditions ?? [];
  const put = (c: { type: OrderConditionType; status: ConditionStatus; reason: string; message: string }) => {
    conds = setCondition(conds, { ...c, observedGeneration: gen }, o.now);
  };
  // The CRD refuses cancelRequested once Processing, but a cancel racing our move to Processing
  // still lands: refuse it visibly, in Ready's message and with one Warning.
  const refused = o.order.spec.cancelRequested === true && out.phase !== "Cancelled";
  const message = refused
    ? `${out.message} (${CANCEL_REFUSED}: the order was already ${out.phase})`
    : out.message;
  // Ready says what the user got, computed from the phase in the same write: a Failed or
  // Revoked order can never keep a stale Ready=True.
  put({ type: "Ready", status: out.phase === "Provisioned" ? "True" : "False", reason: out.reason, message });
  const extra = out.conds ?? [];
  if (!extra.some((c) => c.type === "Reconciled")) {
    put({
      type: "Reconciled",
      status: "True",
      reason: "ReconcileSucceeded",
      message: "the last reconcile succeeded",
    });
  }
  for (const c of extra) put(c);
  // A wait that is over clears its condition.
  const locked = conds.find((c) => c.type === "AssetLocked");
  if (locked?.status === "True" && !extra.some((c) => c.type === "AssetLocked")) {
    put({
      type: "AssetLocked",
      status: "False",
      reason: "AssetFree",
      message: "the asset is no longer locked by another order",
    });
  }

  // Secret attribute values live only while the order can still run: once it finished, their
  // Secret is deleted (once; the condition records it, and a crash before the write repeats it).
  const secretAttrs = o.order.spec.secretAttributesFrom;
  const extraActions: Action[] = [];
  if (
    secretAttrs &&
    FINISHED_PHASES.has(out.phase) &&
    !conds.some((c) => c.type === "SecretAttributesDeleted" && c.status === "True")
  ) {
    extraActions.push({ kind: "DeleteSecretAttributes", secretName: secretAttrs.secretName });
    put({
      type: "SecretAttributesDeleted",
      status: "True",
      reason: "SecretAttributesDeleted",
      message: `the order finished (${out.phase}): Secret ${secretAttrs.secretName} with its secret attribute values was deleted`,
    });
  }

  const status: OrderStatus = {
    ...prev,
    ...out.patch,
    phase: out.phase,
    observedGeneration: gen,
    conditions: conds,
    message,
  };
  const events: Action[] = [];
  const prevReady = prev.conditions?.find((c) => c.type === "Ready");
  const failure = out.phase === "Failed" && from !== "Failed";
  if (from !== out.phase) {
    events.push({
      kind: "Emit",
      type: failure || out.reason === "Declined" ? "Warning" : "Normal",
      reason: out.reason,
      note: `${from ?? "New"} → ${out.phase}: ${out.message}`,
    });
  }
  const waitCond = extra.find((c) => c.status !== "True" || c.type === "AssetLocked");
  const prevWait = waitCond && prev.conditions?.find((c) => c.type === waitCond.type);
  if (
    from === out.phase &&
    waitCond &&
    waitCond.reason !== "ReconcileSucceeded" &&
    prevWait?.reason !== waitCond.reason
  ) {
    events.push({
      kind: "Emit",
      type: waitCond.status === "False" && waitCond.type !== "AssetLocked" ? "Warning" : "Normal",
      reason: waitCond.reason,
      note: waitCond.message,
    });
  }
  if (refused && !prevReady?.message.includes(CANCEL_REFUSED)) {
    events.push({
      kind: "Emit",
      type: "Warning",
      reason: "CancelRefused",
      note: `${CANCEL_REFUSED}: the order was already ${out.phase}`,
    });
  }
  return { status, actions: [...extraActions, ...out.actions, ...events] };
}

/** Phases after which an Order never runs again without a new request (retry). */
const FINISHED_PHASES: ReadonlySet<Phase> = new Set(["Provisioned", "Failed", "Cancelled", "Revoked"]);

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
    const reason = (prev.phase === "Processing" ? "Processing" : (prev.phase ?? "Pending")) as string;
    conds = setCondition(
      conds,
      {
        ...ready,
        status: "False",
        reason: reason === "Scheduled" || reason === "PendingApproval" ? "Pending" : reason,
        observedGeneration: gen,
      },
      now,
    );
  }
  conds = setCondition(
    conds,
    { type: "Reconciled", status: "False", reason: "ReconcileError", message, observedGeneration: gen },
    now,
  );
  const before = prev.conditions?.find((c) => c.type === "Reconciled");
  const changed = before?.status !== "False" || before.message !== message;
  return {
    status: { ...prev, conditions: conds },
    actions: changed ? [{ kind: "Emit", type: "Warning", reason: "ReconcileError", note: message }] : [],
  };
}
