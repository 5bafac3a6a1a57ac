-- Directory groups as provisioned over SCIM (RFC 7643 §4.2), and their members. An AssetType's
-- `spec.entitlement.groups` names them (displayName, id or externalId): membership is who may
-- order it (api/policy/entitlement.ts).
CREATE TABLE employee_groups (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Creation order for stable SCIM paging (clocks may repeat; ids are random).
  seq bigserial NOT NULL,
  display_name text NOT NULL,
  external_id text,
  -- The SCIM ETag is W/"<version>"; every write (a member change included) increments it.
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- displayName is what AssetTypes name and what Entra and Okta look groups up by: unique among
-- groups, compared case-insensitively (RFC 7643 §4.2 caseExact=false), so a second create
-- answers SCIM 409 uniqueness instead of making an entitlement ambiguous.
CREATE UNIQUE INDEX employee_groups_display_name_key ON employee_groups (lower(display_name));
CREATE INDEX employee_groups_external_id ON employee_groups (external_id) WHERE external_id IS NOT NULL;

-- Members are Users only (no nested groups). A SCIM DELETE of a User removes its rows here in
-- the same transaction; a deactivated User stays a member (and is entitled to nothing).
CREATE TABLE employee_group_members (
  group_id uuid NOT NULL REFERENCES employee_groups (id) ON DELETE CASCADE,
  employee_id uuid NOT NULL REFERENCES employees (id),
  -- Order in which members were added, for a stable members list.
  seq bigserial NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, employee_id)
);
CREATE INDEX employee_group_members_employee ON employee_group_members (employee_id);
