-- An admin account's e-mail identifies it as an approver (approvals, links, separation of
-- duties): two accounts sharing one, in any letter case, would make "who is this approver"
-- ambiguous, so it is unique case-insensitively (issue #15). Existing duplicates stop the
-- migration with the addresses to fix rather than an opaque index error.
DO $$
DECLARE
  dup text;
BEGIN
  SELECT string_agg(e, ', ') INTO dup
    FROM (SELECT lower(email) AS e FROM users WHERE email IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d;
  IF dup IS NOT NULL THEN
    RAISE EXCEPTION 'admin accounts share e-mail addresses (%): give each account its own before upgrading', dup;
  END IF;
END
$$;
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE email IS NOT NULL;
