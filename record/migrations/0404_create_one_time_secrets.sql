-- One-time secrets (#22, the helpdesk's password reset): a value the API generated for an
-- Order (an attribute with `generated`) that one person may reveal once. The value is sealed
-- (AES-256-GCM under a key derived from the link secret, bound to the row's id, order and
-- attribute); revealing it, its expiry and the Order's failure wipe it. The rest of the row
-- stays as the record of who got what when (never the value).
CREATE TABLE one_time_secrets (
  -- Random, unguessable (it is in the recipient's mail link; the page still wants their sign-in).
  id text PRIMARY KEY,
  order_name text NOT NULL,
  attribute text NOT NULL,
  asset_type text NOT NULL,
  -- The person the asset is for (e-mail, lower case) and their name as the record had it.
  subject text NOT NULL,
  subject_name text,
  -- Who may reveal it (e-mail, lower case): the subject's manager.
  recipient text NOT NULL,
  -- iv (12) | tag (16) | ciphertext; NULL once revealed, expired or its Order failed.
  sealed bytea,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revealed_at timestamptz,
  -- Why the value is gone when it was not revealed: Expired, OrderFailed.
  wiped_reason text,
  UNIQUE (order_name, attribute)
);
CREATE INDEX one_time_secrets_recipient ON one_time_secrets (recipient, created_at DESC);
CREATE INDEX one_time_secrets_live ON one_time_secrets (expires_at) WHERE sealed IS NOT NULL;
