-- Employees as provisioned over SCIM (RFC 7643 core User + enterprise extension). The full
-- canonical SCIM document lives in `resource`; the columns beside it are the lookup keys the
-- portal, the orders API, the leaver fan-out and ServiceNow resolve people by.
CREATE TABLE employees (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Creation order for stable SCIM paging (clocks may repeat; ids are random).
  seq bigserial NOT NULL,
  user_name text NOT NULL,
  external_id text,
  employee_number text,
  display_name text,
  -- Lower-cased e-mail values, primary first.
  emails text[] NOT NULL DEFAULT '{}',
  active boolean NOT NULL DEFAULT true,
  department text,
  cost_center text,
  manager text,
  resource jsonb NOT NULL,
  -- The SCIM ETag is W/"<version>"; every write increments it.
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- SCIM DELETE keeps the row (the leaver record refers to it) but frees the userName.
  deleted_at timestamptz
);
-- userName is caseExact=false with server uniqueness (RFC 7643 §4.1.1).
CREATE UNIQUE INDEX employees_user_name_key ON employees (lower(user_name)) WHERE deleted_at IS NULL;
CREATE INDEX employees_external_id ON employees (external_id) WHERE deleted_at IS NULL;
CREATE INDEX employees_employee_number ON employees (lower(employee_number)) WHERE deleted_at IS NULL;
CREATE INDEX employees_emails ON employees USING gin (emails);
