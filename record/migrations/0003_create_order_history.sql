-- The order history mirror (record/mirror.ts), derived level-triggered from Order objects.
-- Keys make replays harmless: a phase row per (order uid, phase, attempt), an approval row per
-- (order uid, approver, decision, at), a step run per (order uid, attempt, step).
CREATE TABLE orders (
  uid text PRIMARY KEY,
  namespace text NOT NULL,
  name text NOT NULL,
  asset_type text NOT NULL,
  action text NOT NULL,
  target text,
  requester_id text,
  requester_email text,
  phase text,
  attempt integer NOT NULL DEFAULT 0,
  job_name text,
  provisioned_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz,
  deleted_at timestamptz,
  resource_version text,
  spec jsonb NOT NULL DEFAULT '{}'::jsonb,
  status jsonb NOT NULL DEFAULT '{}'::jsonb,
  mirrored_at timestamptz NOT NULL DEFAULT now()
);
-- Not unique: a deleted Order's name may be reused (new uid) before the deletion is mirrored.
CREATE INDEX orders_namespace_name ON orders (namespace, name);
CREATE INDEX orders_held ON orders (provisioned_at, revoked_at) WHERE provisioned_at IS NOT NULL;

CREATE TABLE order_phases (
  order_uid text NOT NULL REFERENCES orders (uid),
  phase text NOT NULL,
  attempt integer NOT NULL,
  at timestamptz NOT NULL,
  job_name text,
  message text,
  observed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_uid, phase, attempt)
);

CREATE TABLE order_approvals (
  order_uid text NOT NULL REFERENCES orders (uid),
  approver text NOT NULL,
  decision text NOT NULL,
  at timestamptz NOT NULL,
  comment text,
  PRIMARY KEY (order_uid, approver, decision, at)
);

CREATE TABLE step_runs (
  order_uid text NOT NULL REFERENCES orders (uid),
  attempt integer NOT NULL,
  step text NOT NULL,
  state text NOT NULL,
  attempts integer,
  started_at timestamptz,
  finished_at timestamptz,
  exit_code integer,
  message text,
  PRIMARY KEY (order_uid, attempt, step)
);
