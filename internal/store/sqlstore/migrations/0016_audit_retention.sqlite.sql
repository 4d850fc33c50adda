-- Audit retention (issue 11 §6): records older than the retention expire under a
-- signed cut, and the database still refuses every other delete.

-- A tenant's expiry cuts (store.AuditCutStore): records 1 to through_seq expired;
-- record through_seq had hash, and kid signed that statement at time. Append-only,
-- like the trail and the checkpoints.
CREATE TABLE audit_cuts (
    tenant_id   {{keytext}} NOT NULL REFERENCES tenants (id),
    through_seq {{int64}} NOT NULL CHECK (through_seq > 0),
    hash        {{bytes}} NOT NULL CHECK (length(hash) > 0),
    time        {{int64}},
    kid         {{keytext}} NOT NULL CHECK (kid <> ''),
    signature   {{bytes}} NOT NULL CHECK (length(signature) > 0),
    PRIMARY KEY (tenant_id, through_seq)
) {{strict}};

CREATE TRIGGER audit_cuts_no_update BEFORE UPDATE ON audit_cuts
BEGIN
    SELECT RAISE(ABORT, 'audit_cuts is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_cuts_no_delete BEFORE DELETE ON audit_cuts
BEGIN
    SELECT RAISE(ABORT, 'audit_cuts is append-only: DELETE refused');
END;

-- An audit row may be deleted only under a cut of its tenant (the cut is inserted
-- first, in the same transaction). The UPDATE trigger is left alone.
DROP TRIGGER audit_log_no_delete;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_cuts
                 WHERE audit_cuts.tenant_id = OLD.tenant_id AND audit_cuts.through_seq >= OLD.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused (no expiry cut covers the record)');
END;
