-- Access and refresh tokens: the deployment's token-signing keys and the refresh-token
-- families. Same conventions as migration 1: Unix-nanosecond times, NULL for the zero
-- time.

-- The token-signing key pairs (store.SigningKeyStore). Shared by every tenant and
-- every instance, so not bound to a tenant. private_key is sealed by the application
-- (seal_key_id names the field key). A key is published from created_at and signs
-- from activates_at; the list is read by activates_at, then kid (a small table: no
-- index beyond the key).
CREATE TABLE signing_keys (
    kid          {{keytext}} PRIMARY KEY CHECK (kid <> ''),
    algorithm    TEXT NOT NULL,
    public_key   {{bytes}} NOT NULL CHECK (length(public_key) > 0),
    private_key  {{bytes}} NOT NULL CHECK (length(private_key) > 0),
    seal_key_id  TEXT NOT NULL,
    created_at   {{int64}},
    activates_at {{int64}}
) {{strict}};

-- Refresh tokens, by hash only. A family is the chain of tokens one client got by
-- rotating, from the first one issued for a session (parent_id '' for that one).
-- used_at NULL: not rotated yet; revoked_at NULL: not revoked. expires_at is the
-- family's absolute end. token_hash is unique across tenants: a bearer token belongs
-- to exactly one row. session_id is deliberately not a foreign key: sessions are
-- purged on their own schedule, and spent tokens must outlive them until their family
-- expires (presenting one again is how theft is detected).
CREATE TABLE refresh_tokens (
    tenant_id  {{keytext}} NOT NULL,
    id         {{keytext}} NOT NULL,
    family_id  {{keytext}} NOT NULL,
    parent_id  {{keytext}} NOT NULL,
    session_id {{keytext}} NOT NULL,
    user_id    {{keytext}} NOT NULL,
    token_hash {{bytes}} NOT NULL UNIQUE CHECK (length(token_hash) > 0),
    created_at {{int64}},
    expires_at {{int64}} NOT NULL,
    used_at    {{int64}},
    revoked_at {{int64}},
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

-- RefreshTokenByHash, RevokeRefreshFamily, LiveRefreshSessions.
CREATE INDEX refresh_tokens_tenant_token ON refresh_tokens (tenant_id, token_hash);
CREATE INDEX refresh_tokens_tenant_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_tenant_user ON refresh_tokens (tenant_id, user_id);
-- The purge: expired or revoked before the cut-off, in every tenant.
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_revoked ON refresh_tokens (revoked_at);
