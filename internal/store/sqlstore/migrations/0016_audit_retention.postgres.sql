-- Audit retention (issue 11 §6): records older than the retention expire under a
-- signed cut, and the database still refuses every other delete.

-- A tenant's expiry cuts (store.AuditCutStore): records 1 to through_seq expired;
-- record through_seq had hash, and kid signed that statement at time. Append-only,
-- like the trail and the checkpoints (audit_table_refuse_change: migration 14).
CREATE TABLE audit_cuts (
    tenant_id   {{keytext}} NOT NULL REFERENCES tenants (id),
    through_seq {{int64}} NOT NULL CHECK (through_seq > 0),
    hash        {{bytes}} NOT NULL CHECK (length(hash) > 0),
    time        {{int64}},
    kid         {{keytext}} NOT NULL CHECK (kid <> ''),
    signature   {{bytes}} NOT NULL CHECK (length(signature) > 0),
    PRIMARY KEY (tenant_id, through_seq)
) {{strict}};

CREATE TRIGGER audit_cuts_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_cuts
    FOR EACH ROW EXECUTE FUNCTION audit_table_refuse_change();

CREATE TRIGGER audit_cuts_no_truncate
    BEFORE TRUNCATE ON audit_cuts
    FOR EACH STATEMENT EXECUTE FUNCTION audit_table_refuse_change();

-- An audit row may be deleted only under a cut of its tenant (the cut is inserted
-- first, in the same transaction). TRUNCATE and UPDATE stay refused by their own
-- triggers, which are left alone.
CREATE FUNCTION audit_log_delete_under_cut() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_cuts c
               WHERE c.tenant_id = OLD.tenant_id AND c.through_seq >= OLD.seq) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: DELETE refused (no expiry cut covers record % of tenant %)', OLD.seq, OLD.tenant_id
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER audit_log_no_delete ON audit_log;

CREATE TRIGGER audit_log_no_delete
    BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_delete_under_cut();
