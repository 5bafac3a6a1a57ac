-- Runs of scheduled runbooks (#15 contracts: "every step" is audited, scheduled runs too). The
-- operator records a CronJob's Job once it finished, from the runner's termination summary: one
-- row here (the key makes recording idempotent across retries, restarts and replicas) and, in
-- the same transaction, one audit row per step and one for the run.
CREATE TABLE scheduled_runs (
  namespace text NOT NULL,
  job text NOT NULL,
  runbook text NOT NULL,
  cron_job text,
  state text NOT NULL CHECK (state IN ('Succeeded', 'Failed')),
  started_at timestamptz,
  finished_at timestamptz NOT NULL,
  reason text,
  steps jsonb NOT NULL DEFAULT '[]',
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, job)
);
CREATE INDEX scheduled_runs_by_runbook ON scheduled_runs (namespace, runbook, finished_at DESC);
