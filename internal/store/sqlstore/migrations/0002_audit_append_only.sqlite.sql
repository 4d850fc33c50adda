-- The audit trail is append-only (SPEC §9): refuse every UPDATE and DELETE, whoever
-- issues it. RAISE(ABORT) rolls back the statement with SQLITE_CONSTRAINT_TRIGGER.

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
