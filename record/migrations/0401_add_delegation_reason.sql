-- Why a deputy stands in (holiday, parental leave): shown to the deputy and in the audit row
-- (issue #17). Optional; existing delegations have none.
ALTER TABLE delegations ADD COLUMN reason text CHECK (reason IS NULL OR length(reason) <= 500);
