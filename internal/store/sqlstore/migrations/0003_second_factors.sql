-- Second factors (TOTP, recovery codes, passkeys), half-signed-in sessions and the
-- tenant's sign-in policy. Same conventions as migration 1: Unix-nanosecond times,
-- NULL for the zero time, JSON arrays for lists. Flags are INTEGER 0/1 on SQLite
-- (STRICT tables know no BOOLEAN) and BOOLEAN on PostgreSQL (see dialect.go).

-- Existing sessions are complete sign-ins.
ALTER TABLE sessions ADD COLUMN pending {{bool}} NOT NULL DEFAULT FALSE;

-- One TOTP key per user, sealed by the application (key_id names the field key).
-- confirmed_at NULL: enrolment pending, not yet a factor.
CREATE TABLE totp_secrets (
    tenant_id    {{keytext}} NOT NULL,
    user_id      {{keytext}} NOT NULL,
    ciphertext   {{bytes}} NOT NULL CHECK (length(ciphertext) > 0),
    key_id       TEXT NOT NULL,
    created_at   {{int64}},
    confirmed_at {{int64}},
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

-- Accepted TOTP time steps. The primary key is the replay guard: a second insert of
-- the same step fails, however many requests race.
CREATE TABLE totp_used_steps (
    tenant_id {{keytext}} NOT NULL,
    user_id   {{keytext}} NOT NULL,
    step      {{int64}} NOT NULL,
    used_at   {{int64}} NOT NULL,
    PRIMARY KEY (tenant_id, user_id, step),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

-- Single-use recovery codes, by hash; used_at NULL: still usable.
CREATE TABLE recovery_codes (
    tenant_id  {{keytext}} NOT NULL,
    user_id    {{keytext}} NOT NULL,
    code_hash  {{bytes}} NOT NULL CHECK (length(code_hash) > 0),
    created_at {{int64}},
    used_at    {{int64}},
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

-- WebAuthn credentials. credential_id is unique across tenants: an assertion names
-- exactly one passkey. sign_count holds a uint32.
CREATE TABLE passkeys (
    tenant_id        {{keytext}} NOT NULL,
    id               {{keytext}} NOT NULL,
    user_id          {{keytext}} NOT NULL,
    credential_id    {{bytes}} NOT NULL UNIQUE CHECK (length(credential_id) > 0),
    public_key       {{bytes}} NOT NULL CHECK (length(public_key) > 0),
    attestation_type TEXT NOT NULL,
    aaguid           {{bytes}} NOT NULL,
    sign_count       {{int64}} NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    transports       TEXT NOT NULL,
    backup_eligible  {{bool}} NOT NULL,
    backup_state     {{bool}} NOT NULL,
    name             TEXT NOT NULL,
    created_at       {{int64}},
    last_used_at     {{int64}},
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

CREATE INDEX passkeys_tenant_user ON passkeys (tenant_id, user_id);

-- One row per tenant that has ever saved its policy; no row reads as the defaults.
-- updated_by is a user id kept for the record, deliberately not a foreign key.
CREATE TABLE tenant_settings (
    tenant_id               {{keytext}} PRIMARY KEY REFERENCES tenants (id),
    require_2fa             {{bool}} NOT NULL,
    require_2fa_since       {{int64}},
    grace_period_ns         {{int64}} NOT NULL,
    require_passkeys_admins {{bool}} NOT NULL,
    updated_at              {{int64}},
    updated_by              TEXT NOT NULL
) {{strict}};
