-- One trigger per refused operation on audit_log, so that later migrations can each
-- refine one of them (erasing personal fields, expiring records under a signed cut)
-- while the other keeps refusing everything. Behaviour is unchanged: UPDATE, DELETE
-- and TRUNCATE are refused.

DROP TRIGGER audit_log_no_update_delete ON audit_log;

CREATE TRIGGER audit_log_no_update
    BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_delete
    BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
