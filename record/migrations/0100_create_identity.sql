-- Identity and security (issue #5): admin accounts, browser sessions, API tokens, settings,
-- per-asset-type ACL grants, approval delegations and single-use approval links.
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  email text,
  role text NOT NULL CHECK (role IN ('superadmin', 'admin', 'approver', 'auditor', 'helpdesk')),
  -- "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>"
  password_hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins per username, whether or not such a user exists: unknown names lock exactly
-- like known ones, so the lockout never reveals which accounts exist.
CREATE TABLE login_failures (
  username text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Server-side sessions: the cookie carries a random id, the table only its sha256.
CREATE TABLE sessions (
  id_hash text PRIMARY KEY,
  user_id bigint REFERENCES users (id) ON DELETE CASCADE,
  -- Employees (portal identity) have no users row: their identity is kept here.
  employee_email text,
  employee_id text,
  employee_name text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  CHECK ((user_id IS NULL) <> (employee_email IS NULL))
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  -- sha256 hex of the whole plaintext token ("ips_…"); the plaintext is shown once.
  token_hash text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('superadmin', 'admin', 'approver', 'auditor', 'helpdesk')),
  scopes text[] NOT NULL,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- ACL: with at least one row, an admin sees only the granted asset types.
CREATE TABLE asset_type_grants (
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  asset_type text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, asset_type)
);

-- A deputy approves for `principal` (an e-mail or username) between two dates.
CREATE TABLE delegations (
  id bigserial PRIMARY KEY,
  principal text NOT NULL,
  deputy text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX delegations_deputy ON delegations (deputy);

-- One-click approval links are single-use: the link's id lands here the first time it acts.
CREATE TABLE used_links (
  link_id text PRIMARY KEY,
  used_at timestamptz NOT NULL DEFAULT now()
);
