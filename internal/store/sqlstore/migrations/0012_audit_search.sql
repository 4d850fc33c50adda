-- Audit search (SPEC §9): the filters an administrator uses most, each with seq so
-- that a filtered page, newest first, is read in index order and pages on by seq.
-- The primary key (tenant_id, seq) serves the unfiltered search, and
-- audit_log_tenant_time (migration 1) the time range.
CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor_id, seq);
CREATE INDEX audit_log_tenant_email ON audit_log (tenant_id, lower(actor_email), seq);
CREATE INDEX audit_log_tenant_action ON audit_log (tenant_id, action, seq);
CREATE INDEX audit_log_tenant_target ON audit_log (tenant_id, target, seq);
CREATE INDEX audit_log_tenant_ip ON audit_log (tenant_id, ip, seq);
