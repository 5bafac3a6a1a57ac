// Condition types, their closed lists of reasons, the Event reasons, and the Order phase
// transitions the CRD enforces. Pure data (no I/O), shared by the operator, the API and the
// tests. Additive only: never rename or remove a reason once committed (they are stored in
// objects and matched by alerts).
import type { OrderStatusPhase } from "./generated/order.ts";

/** Order conditions: type → the reasons it may carry. */
export const orderConditionReasons = {
  /** Summary: True only while the asset is delivered (what the user got). */
  Ready: [
    "Provisioned",
    "Pending",
    "AwaitingApproval",
    "Processing",
    "Failed",
    "Declined",
    "Cancelled",
    "Revoked",
    "NotApproved",
    "ApprovalExpired",
  ],
  /** How the controller is doing: the last reconcile succeeded or why not (never leaves a stale Ready). */
  Reconciled: [
    "ReconcileSucceeded",
    "ReconcileError",
    "AssetTypeNotFound",
    "RunbookNotFound",
    "TargetNotFound",
    "InvalidSpec",
  ],
  /** Approval state of the Order. */
  Approved: ["ApprovalNotRequired", "AwaitingApproval", "QuorumReached", "Declined", "ApprovalExpired"],
  /** The per-asset lock: AssetBusy while another run holds the asset (the Order waits in Scheduled). */
  AssetLocked: ["AssetBusy", "AssetFree"],
  /** Allocation of a pooled slot / per-user limit. */
  AssetAllocated: ["Allocated", "PoolExhausted", "MaxPerUserReached", "NotPooled"],
  /** For Provision Orders: a Deprovision Order is taking the asset back. */
  Deprovisioning: ["DeprovisionRequested", "DeprovisionSucceeded", "DeprovisionFailed"],
  /** The current attempt's Job. */
  JobReady: ["JobCreated", "JobRunning", "JobSucceeded", "JobFailed", "JobDeadlineExceeded", "JobMissing"],
  /**
   * Orders with spec.secretAttributesFrom: True once the Secret holding the secret attribute
   * values was deleted, when the Order finished (Provisioned, Failed, Cancelled or Revoked).
   */
  SecretAttributesDeleted: ["SecretAttributesDeleted"],
} as const;

export const runbookConditionReasons = {
  /** Summary: the Runbook is usable (its ConfigMaps/Secrets exist). */
  Ready: ["Valid", "ScriptNotFound", "SecretNotFound", "ReconcileError"],
  /** Scheduled runbooks: the CronJob mirrors the schedule. */
  CronJobSynced: ["CronJobInSync", "CronJobSyncFailed", "NotScheduled", "Suspended"],
} as const;

export const assetTypeConditionReasons = {
  /** Summary: the AssetType can be ordered (its Runbooks exist). */
  Ready: ["RunbooksFound", "RunbookNotFound", "ReconcileError"],
} as const;

export const assetConditionReasons = {
  /** Summary: the asset is delivered to its holder. */
  Ready: ["Delivered", "Pending", "Revoking"],
} as const;

type Reasons<T extends Record<string, readonly string[]>> = { [K in keyof T]: T[K][number] };

export type OrderConditionType = keyof typeof orderConditionReasons;
export type OrderConditionReasons = Reasons<typeof orderConditionReasons>;
/** Any reason valid on some Order condition. */
export type OrderConditionReason = OrderConditionReasons[OrderConditionType];
export type RunbookConditionType = keyof typeof runbookConditionReasons;
export type RunbookConditionReason = Reasons<typeof runbookConditionReasons>[RunbookConditionType];
export type AssetTypeConditionType = keyof typeof assetTypeConditionReasons;
export type AssetTypeConditionReason = Reasons<typeof assetTypeConditionReasons>[AssetTypeConditionType];
export type AssetConditionType = keyof typeof assetConditionReasons;
export type AssetConditionReason = Reasons<typeof assetConditionReasons>[AssetConditionType];

/** A condition as the operator builds it, typed so a reason can only go with its own type. */
export type OrderCondition = {
  [T in OrderConditionType]: {
    type: T;
    status: "True" | "False" | "Unknown";
    reason: OrderConditionReasons[T];
    message: string;
    observedGeneration?: number;
    lastTransitionTime: string;
  };
}[OrderConditionType];

/**
 * Event reasons (STYLE.md: an Event on every transition and failure, with the same reason as
 * the condition; Warning for failures). Condition reasons are valid Event reasons too.
 */
export const eventReasons = [
  "PhaseChanged",
  "JobCreated",
  "JobSucceeded",
  "JobFailed",
  "StepFailed",
  "TargetRevoked",
  "CancelRefused",
  "CronJobCreated",
  "CronJobUpdated",
  "CronJobDeleted",
  "AssetAllocated",
  "AssetReleased",
] as const;
export type EventReason =
  | (typeof eventReasons)[number]
  | OrderConditionReason
  | RunbookConditionReason
  | AssetTypeConditionReason
  | AssetConditionReason;

export const orderPhases = [
  "PendingApproval",
  "Scheduled",
  "Processing",
  "Provisioned",
  "Failed",
  "Cancelled",
  "Revoked",
] as const satisfies readonly OrderStatusPhase[];

/**
 * The Order state machine's allowed phase changes, enforced by the CRD (CEL on
 * status.phase in crds/orders.yaml; test/crds/orders.test.ts checks every pair against the
 * API server). Staying in the same phase is always allowed. Further rules the CRD enforces:
 * a new Order's first phase is PendingApproval or Scheduled (or Failed/Cancelled); only a
 * Deprovision Order goes Processing → Revoked; a Deprovision Order never becomes Provisioned.
 */
export const orderPhaseTransitions: Record<OrderStatusPhase, readonly OrderStatusPhase[]> = {
  PendingApproval: ["Scheduled", "Cancelled", "Failed"],
  /** Back to PendingApproval when the approvals no longer satisfy the policy (re-checked). */
  Scheduled: ["Processing", "Cancelled", "Failed", "PendingApproval"],
  Processing: ["Provisioned", "Failed", "Revoked"],
  Provisioned: ["Revoked"],
  /** Scheduled: a retry (spec.retry); Revoked: a partial provision was cleaned up. */
  Failed: ["Scheduled", "Revoked"],
  Cancelled: [],
  Revoked: [],
};

/** First phases a new Order may get. */
export const orderInitialPhases: readonly OrderStatusPhase[] = [
  "PendingApproval",
  "Scheduled",
  "Failed",
  "Cancelled",
];

export function isAllowedPhaseChange(
  from: OrderStatusPhase | undefined,
  to: OrderStatusPhase,
  action: "Provision" | "Modify" | "Deprovision" = "Provision",
): boolean {
  if (action === "Deprovision" && to === "Provisioned") return false;
  if (from === undefined) return orderInitialPhases.includes(to);
  if (from === to) return true;
  if (from === "Processing" && to === "Revoked" && action !== "Deprovision") return false;
  return orderPhaseTransitions[from].includes(to);
}
