-- The tamper-evident audit log (issue #4).
--
-- * audit_events is append-only: the application role (ipsolis_app) may only SELECT it and
--   append through audit_append() (SECURITY DEFINER); a trigger refuses UPDATE, DELETE and
--   TRUNCATE for every role but a superuser.
-- * Each row carries sha256(canonical row || previous row's hash). Appends are serialised by
--   locking the single row of audit_chain_head FOR UPDATE in the appending transaction, so
--   the chain is linear and ids are gap-free in chain order (id = previous id + 1).
-- * The canonical serialisation (audit_canonical) is mirrored byte for byte by
--   record/audit.ts canonicalAuditRow(); verifyChain() recomputes it.

-- The role the API and operator connect as (through a LOGIN role that is a member of it, see
-- record/README.md). Roles are cluster-wide: tolerate another database having created it, also
-- concurrently.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipsolis_app') THEN
    CREATE ROLE ipsolis_app NOLOGIN;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN
    NULL; -- created by a concurrent migration of another database: exactly what we wanted
END
$$;

CREATE TABLE audit_events (
  id bigint PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  target text,
  order_name text,
  request_id text,
  source text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_events_at_id ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_actor ON audit_events (actor, at DESC);
CREATE INDEX audit_events_order ON audit_events (order_name, at DESC) WHERE order_name IS NOT NULL;
CREATE INDEX audit_events_target ON audit_events (target, at DESC) WHERE target IS NOT NULL;
CREATE INDEX audit_events_action ON audit_events (action, at DESC);

-- One row: the id and hash of the newest audit row. Locked FOR UPDATE by every append.
CREATE TABLE audit_chain_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_id bigint NOT NULL,
  last_hash text NOT NULL
);
INSERT INTO audit_chain_head (singleton, last_id, last_hash) VALUES (true, 0, repeat('0', 64));

-- Length-prefixed fields (octet length in UTF-8, ':' then the value; '~' for NULL) joined
-- with '|': unambiguous whatever the values contain. `at` is stored at millisecond precision
-- and written as JavaScript's toISOString() writes it; data as jsonb's own canonical text.
CREATE FUNCTION audit_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END
$$;

CREATE FUNCTION audit_canonical(
  p_id bigint, p_at timestamptz, p_actor text, p_action text, p_target text, p_order text,
  p_request_id text, p_source text, p_data jsonb, p_prev_hash text
) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT concat_ws('|',
    'ipsolis-audit-v1',
    audit_field(p_id::text),
    audit_field(to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    audit_field(p_actor),
    audit_field(p_action),
    audit_field(p_target),
    audit_field(p_order),
    audit_field(p_request_id),
    audit_field(p_source),
    audit_field(p_data::text),
    audit_field(p_prev_hash))
$$;

CREATE FUNCTION audit_append(
  p_actor text, p_action text, p_target text, p_order text, p_request_id text, p_source text,
  p_data jsonb
) RETURNS TABLE (appended_id bigint, appended_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_prev_id bigint;
  v_prev_hash text;
  v_id bigint;
  v_at timestamptz;
  v_data jsonb := coalesce(p_data, '{}'::jsonb);
  v_hash text;
BEGIN
  SELECT h.last_id, h.last_hash INTO v_prev_id, v_prev_hash
    FROM audit_chain_head h WHERE h.singleton FOR UPDATE;
  v_id := v_prev_id + 1;
  -- Taken after the lock: times are monotonic in chain order.
  v_at := date_trunc('milliseconds', clock_timestamp());
  v_hash := encode(sha256(convert_to(audit_canonical(v_id, v_at, p_actor, p_action, p_target,
    p_order, p_request_id, p_source, v_data, v_prev_hash), 'UTF8')), 'hex');
  INSERT INTO audit_events (id, at, actor, action, target, order_name, request_id, source, data,
    prev_hash, hash)
  VALUES (v_id, v_at, p_actor, p_action, p_target, p_order, p_request_id, p_source, v_data,
    v_prev_hash, v_hash);
  UPDATE audit_chain_head SET last_id = v_id, last_hash = v_hash WHERE singleton;
  RETURN QUERY SELECT v_id, v_at;
END
$$;

-- Refuses UPDATE/DELETE/TRUNCATE on append-only tables for everyone but a superuser (who can
-- do anything anyway; the hash chain is what catches that).
CREATE FUNCTION refuse_unless_superuser() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) THEN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION refuse_unless_superuser();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_unless_superuser();
CREATE TRIGGER audit_chain_head_no_delete
  BEFORE DELETE OR TRUNCATE ON audit_chain_head
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_unless_superuser();

REVOKE ALL ON audit_events, audit_chain_head FROM PUBLIC;
GRANT SELECT ON audit_events, audit_chain_head TO ipsolis_app;
REVOKE ALL ON FUNCTION audit_append(text, text, text, text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, jsonb) TO ipsolis_app;
GRANT USAGE ON SCHEMA public TO ipsolis_app;

-- Tables created later by the migrating role (every area's migrations) are usable by the
-- application role; append-only tables revoke UPDATE/DELETE explicitly in their own migration.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ipsolis_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO ipsolis_app;
