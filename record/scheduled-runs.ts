// Runs of scheduled runbooks in the record (migration 0402): the operator records each finished
// CronJob Job once, with one audit row per step and one for the run, in one transaction; the
// console lists a runbook's last runs from here.
import { appendAudit } from "./audit.ts";
import { translatePgError, withTransaction, type Db, type Queryable } from "./db.ts";

export type ScheduledRunStep = {
  name: string;
  state: string;
  exitCode?: number | undefined;
  message?: string | undefined;
};

export type ScheduledRun = {
  namespace: string;
  job: string;
  runbook: string;
  cronJob?: string | undefined;
  state: "Succeeded" | "Failed";
  startedAt?: Date | undefined;
  finishedAt: Date;
  /** The Job's failure reason (DeadlineExceeded, BackoffLimitExceeded), when it failed. */
  reason?: string | undefined;
  /** From the runner's termination summary; empty when the pod left none. */
  steps: ScheduledRunStep[];
};

const STEP_ACTION: Record<string, string> = {
  Succeeded: "step_succeeded",
  Failed: "step_failed",
  Skipped: "step_skipped",
};

/**
 * Records one finished run, once: a second call for the same Job (a retry, a restart, another
 * replica) changes nothing and returns false.
 */
export async function recordScheduledRun(db: Db, run: ScheduledRun): Promise<boolean> {
  return withTransaction(db, async (c) => {
    const r = await c.query(
      `INSERT INTO scheduled_runs (namespace, job, runbook, cron_job, state, started_at, finished_at, reason, steps)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (namespace, job) DO NOTHING`,
      [
        run.namespace,
        run.job,
        run.runbook,
        run.cronJob ?? null,
        run.state,
        run.startedAt ?? null,
        run.finishedAt,
        run.reason ?? null,
        JSON.stringify(run.steps),
      ],
    );
    if (r.rowCount === 0) return false;
    const actor = `runner:${run.job}`;
    const target = `runbook:${run.runbook}`;
    for (const s of run.steps) {
      await appendAudit(c, {
        actor,
        action: STEP_ACTION[s.state] ?? "step_failed",
        target,
        source: "schedule",
        // The runner masked secret values in its summary already.
        data: {
          job: run.job,
          step: s.name,
          state: s.state,
          exitCode: s.exitCode ?? null,
          message: s.message ?? null,
        },
      });
    }
    await appendAudit(c, {
      actor,
      action: "scheduled_run_finished",
      target,
      source: "schedule",
      data: {
        job: run.job,
        cronJob: run.cronJob ?? null,
        state: run.state,
        reason: run.reason ?? null,
        steps: run.steps.length,
        startedAt: run.startedAt?.toISOString() ?? null,
        finishedAt: run.finishedAt.toISOString(),
      },
    });
    return true;
  }).catch((err: unknown) => {
    throw translatePgError(err, "recording a scheduled run");
  });
}

/** A runbook's newest runs, newest first. */
export async function listScheduledRuns(
  q: Queryable,
  namespace: string,
  runbook: string,
  limit = 10,
): Promise<ScheduledRun[]> {
  const r = await q
    .query<{
      job: string;
      cron_job: string | null;
      state: "Succeeded" | "Failed";
      started_at: Date | null;
      finished_at: Date;
      reason: string | null;
      steps: ScheduledRunStep[];
    }>(
      `SELECT job, cron_job, state, started_at, finished_at, reason, steps FROM scheduled_runs
       WHERE namespace = $1 AND runbook = $2 ORDER BY finished_at DESC, job DESC LIMIT $3`,
      [namespace, runbook, limit],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "listing scheduled runs");
    });
  return r.rows.map((x) => ({
    namespace,
    runbook,
    job: x.job,
    cronJob: x.cron_job ?? undefined,
    state: x.state,
    startedAt: x.started_at ?? undefined,
    finishedAt: x.finished_at,
    reason: x.reason ?? undefined,
    steps: x.steps,
  }));
}
