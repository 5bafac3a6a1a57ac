-- Movers: a SCIM write changed a field of a person's record that some asset type's attributes
-- follow (fromEmployee). One pending event per person: a second change before the first is
-- done merges into it (version + 1), and the processor marks an event done only for the
-- version it read, so no change is lost between reading and finishing.
CREATE TABLE mover_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  employee_id uuid NOT NULL REFERENCES employees (id),
  -- {"department": {"from": "Sales", "to": "Finance"}, ...}: "" where the record had none.
  changes jsonb NOT NULL,
  version integer NOT NULL DEFAULT 1,
  source text NOT NULL,
  actor text NOT NULL,
  request_id text,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'processed')),
  -- Lease of the process working on it (an expired lease is taken over), and when to look again
  -- (a provision still running, or a change open on an asset).
  claimed_at timestamptz,
  next_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  -- The last run's plan: modify orders made, unchanged, waiting, no modify runbook.
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
CREATE UNIQUE INDEX mover_events_pending ON mover_events (employee_id) WHERE state = 'pending';
CREATE INDEX mover_events_due ON mover_events (next_at) WHERE state = 'pending';
CREATE INDEX mover_events_employee ON mover_events (employee_id, created_at DESC);
