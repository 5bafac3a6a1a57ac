-- Notifications (issue #17): the outbox every message goes through, and the approval
-- scheduler's per-order state (requested, reminded, escalated, expired) so reminders and expiry
-- survive restarts and run once with two API replicas.

-- One row per (event, recipient, channel): written in the same transaction as the event that
-- causes it; a worker delivers it with retries and backoff. The unique key makes a second
-- writer (another replica, a retried tick) a no-op, so nothing is sent twice.
CREATE TABLE notification_outbox (
  id bigserial PRIMARY KEY,
  -- What happened, unique per occurrence, e.g. "approval_requested:<order>",
  -- "approval_reminder:<order>:2", "order_outcome:<order>:Provisioned".
  event_key text NOT NULL,
  -- approval_requested, approval_reminder, approval_escalated, approval_reassigned,
  -- approval_expired, order_outcome, delegation_started, leaver_summary, cost_alert.
  kind text NOT NULL,
  -- The person (e-mail address) the message is for.
  recipient text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('email', 'teams', 'webhook')),
  -- Template data. Never a capability URL: an approval link is stored as its signed claims
  -- (`link`) and signed into a URL only at delivery.
  payload jsonb NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz,
  UNIQUE (event_key, recipient, channel)
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'pending';

-- The approval scheduler's state for one Order waiting for approval.
CREATE TABLE approval_requests (
  order_name text PRIMARY KEY,
  asset_type text NOT NULL,
  -- When the approval was first requested (the Order's creation): reminders, escalation and
  -- expiry count from here.
  requested_at timestamptz NOT NULL,
  reminders_sent integer NOT NULL DEFAULT 0,
  last_notified_at timestamptz NOT NULL,
  escalated_at timestamptz,
  closed_at timestamptz,
  -- decided, expired, withdrawn (cancelled / deleted)
  closed_reason text
);
CREATE INDEX approval_requests_open ON approval_requests (order_name) WHERE closed_at IS NULL;

-- Whom an open request was sent to, and the link each got (its id, to refuse it once the
-- person stops being an approver, e.g. a leaver's).
CREATE TABLE approval_recipients (
  order_name text NOT NULL REFERENCES approval_requests (order_name),
  -- The approver's e-mail address (lower case).
  recipient text NOT NULL,
  -- approver (listed / manager), deputy, escalation, reassigned
  role text NOT NULL,
  -- Whose approval this person's decision counts as (the listed entry).
  approver_key text NOT NULL,
  link_id text,
  added_at timestamptz NOT NULL,
  -- Set when the person stopped counting (leaver): their link refuses from then on.
  revoked_at timestamptz,
  PRIMARY KEY (order_name, recipient)
);

-- Outcomes told to the requester, once per (order, outcome).
CREATE TABLE order_outcome_notices (
  order_name text NOT NULL,
  outcome text NOT NULL,
  noticed_at timestamptz NOT NULL,
  PRIMARY KEY (order_name, outcome)
);
