// Scheduled runbooks: a Runbook with a `schedule` owns one CronJob that mirrors it. Pure: the
// desired CronJob (or none), the action to get there and the Runbook's status.
import type * as k8s from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import type { RunbookConditionReason } from "../../crds/reasons.ts";
import { setCondition } from "../order/decide.ts";
import {
  activeDeadlineFor,
  JOB_TTL_SECONDS,
  LABEL_RUNBOOK,
  MANAGED_BY,
  podTemplateFor,
  runnerEnv,
} from "../order/job.ts";
import type { Condition, Runbook } from "../order/model.ts";
import { childName } from "../order/names.ts";

export const SPEC_HASH = "ipsolis.io/spec-hash";

export type RunbookAction =
  | { kind: "ApplyCronJob"; cronJob: k8s.V1CronJob; created: boolean }
  | { kind: "DeleteCronJob"; name: string }
  | { kind: "Emit"; type: "Normal" | "Warning"; reason: string; note: string };

export type RunbookStatus = NonNullable<Runbook["status"]>;

export function cronJobNameFor(runbook: string): string {
  return childName(runbook, "schedule");
}

export function desiredCronJob(
  rb: Runbook,
  namespace: string,
  serviceAccountName?: string,
): k8s.V1CronJob | undefined {
  const sched = rb.spec.schedule;
  if (!sched) return undefined;
  const labels = { [LABEL_RUNBOOK]: rb.metadata.name };
  const spec: k8s.V1CronJobSpec = {
    schedule: sched.cron,
    timeZone: sched.timeZone ?? "Europe/Berlin",
    concurrencyPolicy: "Forbid",
    suspend: sched.suspend ?? false,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 3,
    jobTemplate: {
      metadata: { labels: { ...labels, ...MANAGED_BY } },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: activeDeadlineFor(rb),
        ttlSecondsAfterFinished: JOB_TTL_SECONDS,
        template: podTemplateFor({
          runbook: rb,
          env: runnerEnv({ runbook: rb }),
          labels,
          serviceAccountName,
        }),
      },
    },
  };
  const hash = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name: cronJobNameFor(rb.metadata.name),
      namespace,
      labels: { ...labels, ...MANAGED_BY },
      annotations: { [SPEC_HASH]: hash },
      ownerReferences: [
        {
          apiVersion: "ipsolis.io/v1alpha1",
          kind: "Runbook",
          name: rb.metadata.name,
          uid: rb.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec,
  };
}

/** What the reconcile saw of the objects a runbook's steps read (none when it looked at none). */
export type RunbookRefs = {
  /** The refusal sentence of refusedSecretRefs: a Secret missing or not labelled for runbooks. */
  refusedSecrets?: string | undefined;
  /** The `scriptFrom` references whose ConfigMap or key does not exist, as "name/key". */
  missingScripts?: readonly string[] | undefined;
};

/** Ready and its reason from what the steps read: a runbook whose run could not start is not Ready. */
export function readinessOf(
  rb: Runbook,
  refs: RunbookRefs,
): { status: "True" | "False"; reason: RunbookConditionReason; message: string } {
  const scripts = refs.missingScripts ?? [];
  const scriptSentence =
    scripts.length > 0
      ? `runbook ${rb.metadata.name} takes its script from ConfigMap key${scripts.length > 1 ? "s" : ""} ${scripts.join(", ")} that ${scripts.length > 1 ? "do" : "does"} not exist; no Job can start`
      : undefined;
  if (refs.refusedSecrets)
    return {
      status: "False",
      reason: "SecretNotFound",
      message: [refs.refusedSecrets, scriptSentence].filter(Boolean).join("; "),
    };
  if (scriptSentence) return { status: "False", reason: "ScriptNotFound", message: scriptSentence };
  return {
    status: "True",
    reason: "Valid",
    message: "the runbook is usable: every Secret and script it reads exists",
  };
}

export function decideRunbook(input: {
  runbook: Runbook;
  /** The CronJob of this Runbook in the cache, if any. */
  cronJob?: k8s.V1CronJob;
  namespace: string;
  serviceAccountName?: string;
  /** What its steps read, as observed (Secrets' labels, script ConfigMaps). */
  refs?: RunbookRefs;
  now: Date;
}): { status: RunbookStatus; actions: RunbookAction[] } {
  const { runbook: rb, cronJob, now } = input;
  const gen = rb.metadata.generation;
  const want = desiredCronJob(rb, input.namespace, input.serviceAccountName);
  const actions: RunbookAction[] = [];
  let conds: Condition[] = rb.status?.conditions ?? [];
  const put = (type: string, status: "True" | "False", reason: RunbookConditionReason, message: string) => {
    conds = setCondition(conds, { type, status, reason, message, observedGeneration: gen }, now);
  };
  const ready = readinessOf(rb, input.refs ?? {});
  put("Ready", ready.status, ready.reason, ready.message);
  const status: RunbookStatus = { ...rb.status, observedGeneration: gen };
  if (want && input.refs?.refusedSecrets) {
    // Its runs may not read what it names: no CronJob (an existing one goes), said on the
    // condition and in a Warning.
    if (cronJob?.metadata?.name) {
      actions.push({ kind: "DeleteCronJob", name: cronJob.metadata.name });
    }
    actions.push({
      kind: "Emit",
      type: "Warning",
      reason: "CronJobSyncFailed",
      note: input.refs.refusedSecrets,
    });
    put("CronJobSynced", "False", "CronJobSyncFailed", input.refs.refusedSecrets);
    delete status.cronJobName;
  } else if (want) {
    const name = want.metadata!.name!;
    const same = cronJob?.metadata?.annotations?.[SPEC_HASH] === want.metadata!.annotations![SPEC_HASH];
    if (!same) {
      actions.push({ kind: "ApplyCronJob", cronJob: want, created: !cronJob });
      actions.push({
        kind: "Emit",
        type: "Normal",
        reason: cronJob ? "CronJobUpdated" : "CronJobCreated",
        note: `CronJob ${name} ${cronJob ? "updated" : "created"} for schedule "${want.spec.schedule}" (${want.spec.timeZone})`,
      });
    }
    const suspended = want.spec.suspend === true;
    put(
      "CronJobSynced",
      "True",
      suspended ? "Suspended" : "CronJobInSync",
      suspended
        ? `CronJob ${name} is suspended`
        : `CronJob ${name} runs "${want.spec.schedule}" (${want.spec.timeZone})`,
    );
    status.cronJobName = name;
  } else {
    if (cronJob?.metadata?.name) {
      actions.push({ kind: "DeleteCronJob", name: cronJob.metadata.name });
      actions.push({
        kind: "Emit",
        type: "Normal",
        reason: "CronJobDeleted",
        note: `CronJob ${cronJob.metadata.name} deleted: the runbook has no schedule`,
      });
    }
    put("CronJobSynced", "True", "NotScheduled", "the runbook has no schedule");
    delete status.cronJobName;
  }
  status.conditions = conds;
  return { status, actions };
}

/** The failure path: CronJobSynced=False with the API server's message. */
export function decideRunbookError(rb: Runbook, message: string, now: Date): RunbookStatus {
  const conds = setCondition(
    rb.status?.conditions ?? [],
    {
      type: "CronJobSynced",
      status: "False",
      reason: "CronJobSyncFailed",
      message,
      observedGeneration: rb.metadata.generation,
    },
    now,
  );
  return { ...rb.status, conditions: conds };
}
