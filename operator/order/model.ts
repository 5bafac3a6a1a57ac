// The slice of the domain contract (preamble of issue #11, made real in crds/) that the order
// controller reads. Structural on purpose: the generated CRD types are assignable to these, and
// the pure decide function stays free of any client library.
import { orderPhases } from "../../crds/reasons.ts";

/** The phases, from the CRD's own list (crds/reasons.ts). */
export const PHASES = orderPhases;
export type Phase = (typeof PHASES)[number];

export type ConditionStatus = "True" | "False" | "Unknown";
export type Condition = {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
};

export type StepState = "Pending" | "Running" | "Succeeded" | "Failed" | "Skipped";
export type StepStatus = {
  name: string;
  state: StepState;
  attempts?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  message?: string;
};

export type OrderStatus = {
  phase?: Phase;
  conditions?: Condition[];
  observedGeneration?: number;
  attempt?: number;
  jobName?: string;
  retry?: number;
  previousAttempts?: { attempt: number; jobName: string; message?: string }[];
  steps?: StepStatus[];
  asset?: { id: string };
  provisionedAt?: string;
  revokedAt?: string;
  /** Provision Orders: the asset's values after its last successful Modify (#19). */
  attributes?: Record<string, string>;
  modifiedBy?: string;
  modifiedAt?: string;
  message?: string;
};

export type Approval = { approver: string; decision: "Approved" | "Declined"; at?: string; comment?: string };

export type OrderAction = "Provision" | "Modify" | "Deprovision";

export type Order = {
  metadata: { name: string; namespace?: string; uid?: string; generation?: number };
  spec: {
    assetType: string;
    action?: OrderAction;
    target?: string;
    requester: { id: string; email: string; displayName?: string; manager?: string };
    attributes?: Record<string, string>;
    /** The secret attributes' Secret (crds/orders.yaml): mounted as files, deleted when finished. */
    secretAttributesFrom?: { secretName: string; keys: string[] };
    reason?: string;
    cancelRequested?: boolean;
    retry?: number;
    approvals?: Approval[];
  };
  status?: OrderStatus;
};

export type AssetType = {
  metadata: { name: string };
  spec: {
    assignment: {
      model: "CapacityPooled" | "DedicatedShared" | "AssignedPersonal";
      capacity?: number;
      maxPerUser?: number;
    };
    approval: {
      policy: "None" | "Manager" | "Approvers";
      approvers?: string[];
      quorum?: number;
      onModify?: { policy: "Same" | "None" | "Manager" | "Approvers"; approvers?: string[]; quorum?: number };
    };
    runbooks: { provision: string; modify?: string; deprovision?: string };
    /** Only what the operator reads: which attributes are secret. */
    attributes?: { name: string; secret?: boolean }[];
  };
};

export type RunbookStep = {
  name: string;
  shell?: "pwsh" | "bash";
  script?: string;
  scriptFrom?: { configMapKeyRef: { name: string; key: string } };
  parameters?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef: { name: string; key: string } };
  }[];
  timeoutSeconds?: number;
  retries?: number;
  retryDelaySeconds?: number;
  critical?: boolean;
};

export type Runbook = {
  metadata: { name: string; namespace?: string; uid?: string; generation?: number };
  spec: {
    description?: string;
    image: string;
    kerberos?: { secretName: string; principal: string; keytabKey?: string; krb5ConfKey?: string };
    steps: RunbookStep[];
    schedule?: { cron: string; timeZone?: string; suspend?: boolean };
  };
  status?: { conditions?: Condition[]; observedGeneration?: number; cronJobName?: string };
};
