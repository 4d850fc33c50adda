-- Erasable personal data in the audit trail (SPEC §9, GDPR). A version-2 record's
-- chain hash covers a keyed digest (pii_digest) of its personal fields (actor_email,
-- ip, user_agent, details) instead of the fields themselves, so they can be erased
-- (emptied, pii_erased set) and the chain still verifies. Version-1 records (every
-- record written before this migration) hash the fields directly and stay as they are.
ALTER TABLE audit_log ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version > 0);
ALTER TABLE audit_log ADD COLUMN pii_digest BLOB;
ALTER TABLE audit_log ADD COLUMN pii_erased INTEGER NOT NULL DEFAULT 0 CHECK (pii_erased IN (0, 1));

-- The UPDATE guard now lets exactly one change through: erasing the personal fields
-- of a version-2 record not erased yet, every other column unchanged. Everything
-- else is refused as before. (A column added to audit_log later must be listed here.)
DROP TRIGGER audit_log_no_update;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    OLD.version = 2 AND OLD.pii_erased = 0 AND NEW.pii_erased = 1
    AND NEW.actor_email = '' AND NEW.ip = '' AND NEW.user_agent = '' AND NEW.details = '{}'
    AND NEW.tenant_id IS OLD.tenant_id AND NEW.seq IS OLD.seq AND NEW.time IS OLD.time
    AND NEW.actor_id IS OLD.actor_id AND NEW.action IS OLD.action AND NEW.target IS OLD.target
    AND NEW.outcome IS OLD.outcome AND NEW.session_id IS OLD.session_id AND NEW.request_id IS OLD.request_id
    AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash
    AND NEW.version IS OLD.version AND NEW.pii_digest IS OLD.pii_digest
)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused (only erasing the personal fields of a version-2 record is allowed)');
END;
