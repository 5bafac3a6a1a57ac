// Scheduled runs: what a finished CronJob Job of a runbook says, for the record (pure). Order
// Jobs carry the order label and are the Order's business; these carry only the runbook's.
import type * as k8s from "@kubernetes/client-node";
import type { ScheduledRun } from "../../record/scheduled-runs.ts";
import { LABEL_ORDER, LABEL_RUNBOOK } from "../order/job.ts";
import { summaryOf } from "../order/reconcile.ts";

/** How long a finished Job waits for its pod's termination message (another watch). */
export const RUN_SUMMARY_GRACE_MS = 10_000;

export function isScheduledRunJob(job: { metadata?: k8s.V1ObjectMeta }): boolean {
  const l = job.metadata?.labels ?? {};
  return Boolean(l[LABEL_RUNBOOK]) && !l[LABEL_ORDER];
}

export type RunSeen =
  | { kind: "NotScheduled" }
  | { kind: "Running" }
  | { kind: "WaitForSummary"; retryInMs: number }
  | { kind: "Finished"; run: ScheduledRun };

export function scheduledRunOf(
  job: k8s.V1Job,
  pods: readonly k8s.V1Pod[],
  namespace: string,
  now: Date,
): RunSeen {
  if (!isScheduledRunJob(job) || !job.metadata?.name) return { kind: "NotScheduled" };
  const name = job.metadata.name;
  const done = (job.status?.conditions ?? []).find(
    (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
  );
  if (!done) return { kind: "Running" };
  const finishedAt = new Date(
    Date.parse(String(job.status?.completionTime ?? done.lastTransitionTime ?? "")) || now.getTime(),
  );
  const steps = summaryOf(pods, name);
  const waited = now.getTime() - finishedAt.getTime();
  if (!steps && waited < RUN_SUMMARY_GRACE_MS) {
    return { kind: "WaitForSummary", retryInMs: Math.max(250, RUN_SUMMARY_GRACE_MS - waited) };
  }
  const started = Date.parse(String(job.status?.startTime ?? ""));
  const cronJob = job.metadata.ownerReferences?.find((r) => r.kind === "CronJob")?.name;
  return {
    kind: "Finished",
    run: {
      namespace,
      job: name,
      runbook: job.metadata.labels?.[LABEL_RUNBOOK] ?? "",
      cronJob,
      state: done.type === "Complete" ? "Succeeded" : "Failed",
      ...(Number.isFinite(started) ? { startedAt: new Date(started) } : {}),
      finishedAt,
      ...(done.type === "Failed" && done.reason ? { reason: done.reason } : {}),
      steps: (steps ?? []).map((s) => ({
        name: s.name,
        state: s.state,
        ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
        ...(s.message !== undefined ? { message: s.message } : {}),
      })),
    },
  };
}
