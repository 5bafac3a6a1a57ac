-- Leaver events (SCIM active=false / DELETE, the HR webhook) and the per-asset deprovisions each
-- one queued. One open event per person (leaver_key), so SCIM and HR reporting the same leaver,
-- or a redelivered webhook, queue each deprovision once.
CREATE TABLE leaver_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- "employee:<uuid>" for a known employee, else "identifier:<lower-cased identifier>".
  leaver_key text NOT NULL,
  employee_id uuid REFERENCES employees (id),
  -- The identifier as the source sent it (UPN, e-mail, employee id or externalId).
  identifier text NOT NULL,
  -- Lower-cased identifiers and e-mails an Order's requester.id / requester.email match against.
  subject_ids text[] NOT NULL,
  subject_emails text[] NOT NULL,
  display_name text,
  source text NOT NULL,
  actor text NOT NULL,
  request_id text,
  effective_at timestamptz NOT NULL,
  state text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'processing', 'processed')),
  -- Lease of the process currently fanning out (restart-safe: an expired lease is taken over).
  claimed_at timestamptz,
  processed_at timestamptz,
  deliveries integer NOT NULL DEFAULT 1,
  -- Set by re-activation (or cancellation before the effective date): the event no longer blocks.
  closed_at timestamptz,
  closed_reason text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX leaver_events_open_key ON leaver_events (leaver_key) WHERE closed_at IS NULL;
CREATE INDEX leaver_events_due ON leaver_events (effective_at) WHERE state <> 'processed' AND closed_at IS NULL;
CREATE INDEX leaver_events_subject_ids ON leaver_events USING gin (subject_ids);
CREATE INDEX leaver_events_subject_emails ON leaver_events USING gin (subject_emails);

CREATE TABLE leaver_items (
  event_id uuid NOT NULL REFERENCES leaver_events (id),
  -- The held Provision Order being reclaimed.
  target text NOT NULL,
  asset_type text NOT NULL,
  -- The Deprovision Order currently standing for it (<target>-deprovision, or -<n> on retry).
  order_name text NOT NULL,
  attempt integer NOT NULL DEFAULT 1,
  -- Why the Deprovision Order could not be created (NULL once it exists).
  create_error text,
  queued_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, target)
);
