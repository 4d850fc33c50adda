-- Soft delete (issue 12 §4): a deleted member keeps their row, marked with the time
-- of deletion, for the 30-day restore window; every query on live users leaves the
-- row out, and the purge job removes it (and all that refers to it) afterwards.
-- NULL: a live member.
ALTER TABLE users ADD COLUMN deleted_at {{int64}};

-- The purge job and the Deleted list look deleted members up by tenant and time.
CREATE INDEX users_deleted ON users (tenant_id, deleted_at);
