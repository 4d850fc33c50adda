-- Soft delete of second factors (issue 12 §4): a removed authenticator app, passkey
-- or recovery-code set keeps its row, marked with the time of removal, for the
-- 30-day restore window; every query on live factors leaves it out (it signs nobody
-- in and counts as no factor), and the purge job removes it afterwards. NULL: live.
--
-- totp_secrets keeps one row per user: a new enrolment overwrites a removed secret
-- (and so ends its restore window). recovery_codes holds at most one removed set per
-- user beside the live one. passkeys.credential_id stays unique across live and
-- removed passkeys: the user's own removed passkey gives way when the same
-- credential is registered again.
ALTER TABLE totp_secrets ADD COLUMN deleted_at {{int64}};
ALTER TABLE recovery_codes ADD COLUMN deleted_at {{int64}};
ALTER TABLE passkeys ADD COLUMN deleted_at {{int64}};

-- The purge job looks removed factors up by tenant and time.
CREATE INDEX totp_secrets_deleted ON totp_secrets (tenant_id, deleted_at);
CREATE INDEX recovery_codes_deleted ON recovery_codes (tenant_id, deleted_at);
CREATE INDEX passkeys_deleted ON passkeys (tenant_id, deleted_at);
