-- externalId is the provisioning client's identifier for a person (Entra's objectId or
-- mailNickname, Okta's user id): two live employees with the same one would make the leaver
-- lookup by externalId ambiguous, so it is unique among live employees (a second create
-- answers SCIM 409 uniqueness). caseExact (RFC 7643 §3.1): compared as written.
DROP INDEX IF EXISTS employees_external_id;
CREATE UNIQUE INDEX employees_external_id_key ON employees (external_id)
  WHERE deleted_at IS NULL AND external_id IS NOT NULL;
