-- PostgreSQL gets one trigger per refused operation on audit_log here; SQLite has had
-- them (audit_log_no_update, audit_log_no_delete) since migration 2. Nothing changes.
SELECT 1;
