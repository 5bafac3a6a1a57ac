-- Live step output from the runner (POST /ingest/v1/lines). Append-only like the audit log;
-- (namespace, job, seq) is unique, so a re-delivered batch inserts nothing twice.
CREATE TABLE step_output_lines (
  namespace text NOT NULL,
  order_name text NOT NULL,
  job text NOT NULL,
  seq bigint NOT NULL,
  ts timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL CHECK (kind IN ('step_start', 'line', 'step_end', 'run_end')),
  -- Absent on run_end (the runner output contract).
  step text,
  attempt integer,
  stream text CHECK (stream IN ('stdout', 'stderr')),
  text text,
  exit_code integer,
  state text,
  message text,
  PRIMARY KEY (namespace, job, seq)
);
-- An order's log, ordered per step by (order, job, seq).
CREATE INDEX step_output_lines_order ON step_output_lines (namespace, order_name, job, seq);

CREATE TRIGGER step_output_lines_append_only
  BEFORE UPDATE OR DELETE ON step_output_lines
  FOR EACH ROW EXECUTE FUNCTION refuse_unless_superuser();
CREATE TRIGGER step_output_lines_no_truncate
  BEFORE TRUNCATE ON step_output_lines
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_unless_superuser();
REVOKE UPDATE, DELETE, TRUNCATE ON step_output_lines FROM ipsolis_app;
GRANT SELECT, INSERT ON step_output_lines TO ipsolis_app;
