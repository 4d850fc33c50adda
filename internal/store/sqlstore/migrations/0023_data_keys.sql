-- Master key rotation (issue 12 §6). The deployment's data keys (store.DataKeyStore):
-- keys that must outlive a master key version — the audit personal-data digest key, the
-- refresh-token successor key — kept sealed with the master key (seal_key_id names the
-- field key) so that a rotation re-seals them and they never change. Unix-nanosecond
-- times, NULL for the zero time.
CREATE TABLE data_keys (
    purpose     {{keytext}} PRIMARY KEY CHECK (purpose <> ''),
    sealed      {{bytes}} NOT NULL CHECK (length(sealed) > 0),
    seal_key_id TEXT NOT NULL,
    created_at  {{int64}}
) {{strict}};

-- `gatehouse keys status` counts TOTP keys per field key, and a rotation looks for the
-- ones not yet under the newest: one index range each.
CREATE INDEX totp_secrets_key ON totp_secrets (key_id, tenant_id, user_id);
