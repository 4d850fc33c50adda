-- Per-tenant lockout policy; 0 means the gateway's configured default.
ALTER TABLE tenant_settings ADD COLUMN lockout_threshold {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE tenant_settings ADD COLUMN lockout_base_ns {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE tenant_settings ADD COLUMN lockout_max_ns {{int64}} NOT NULL DEFAULT 0;
