-- Erasable personal data in the audit trail (SPEC §9, GDPR). A version-2 record's
-- chain hash covers a keyed digest (pii_digest) of its personal fields (actor_email,
-- ip, user_agent, details) instead of the fields themselves, so they can be erased
-- (emptied, pii_erased set) and the chain still verifies. Version-1 records (every
-- record written before this migration) hash the fields directly and stay as they are.
ALTER TABLE audit_log ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version > 0);
ALTER TABLE audit_log ADD COLUMN pii_digest BYTEA;
ALTER TABLE audit_log ADD COLUMN pii_erased BOOLEAN NOT NULL DEFAULT FALSE;

-- The UPDATE guard now lets exactly one change through: erasing the personal fields
-- of a version-2 record not erased yet, every other column unchanged (compared as the
-- whole row without the erasable columns, so a column added later is guarded too).
-- Everything else is refused as before. DELETE and TRUNCATE keep their own triggers.
CREATE FUNCTION audit_log_guard_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    erasable CONSTANT text[] := ARRAY['actor_email', 'ip', 'user_agent', 'details', 'pii_erased'];
BEGIN
    IF OLD.version = 2 AND NOT OLD.pii_erased AND NEW.pii_erased
        AND NEW.actor_email = '' AND NEW.ip = '' AND NEW.user_agent = '' AND NEW.details = '{}'
        AND to_jsonb(NEW) - erasable = to_jsonb(OLD) - erasable
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: UPDATE refused (only erasing the personal fields of a version-2 record is allowed)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER audit_log_no_update ON audit_log;

CREATE TRIGGER audit_log_no_update
    BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard_update();
