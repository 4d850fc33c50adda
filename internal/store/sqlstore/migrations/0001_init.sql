-- Gatehouse schema, version 1. Written once for both dialects: double-brace placeholders
-- are substituted per dialect (see dialect.go). Times are Unix nanoseconds (UTC);
-- NULL stands for the zero time. Lists (roles, teams, auth methods) are JSON arrays.

CREATE TABLE tenants (
    id         {{keytext}} PRIMARY KEY,
    slug       {{keytext}} NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at {{int64}}
) {{strict}};

CREATE TABLE tenant_hosts (
    host      {{keytext}} PRIMARY KEY,
    tenant_id {{keytext}} NOT NULL REFERENCES tenants (id)
) {{strict}};

CREATE INDEX tenant_hosts_tenant ON tenant_hosts (tenant_id);

CREATE TABLE users (
    tenant_id     {{keytext}} NOT NULL REFERENCES tenants (id),
    id            {{keytext}} NOT NULL,
    email         {{keytext}} NOT NULL,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status        TEXT NOT NULL,
    roles         TEXT NOT NULL,
    teams         TEXT NOT NULL,
    created_at    {{int64}},
    last_login_at {{int64}},
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
) {{strict}};

-- token_hash is unique across tenants: a bearer token belongs to exactly one session.
CREATE TABLE sessions (
    tenant_id    {{keytext}} NOT NULL,
    id           {{keytext}} NOT NULL,
    user_id      {{keytext}} NOT NULL,
    token_hash   {{bytes}} NOT NULL UNIQUE,
    auth_methods TEXT NOT NULL,
    created_at   {{int64}},
    expires_at   {{int64}} NOT NULL,
    last_active  {{int64}},
    revoked_at   {{int64}},
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) {{strict}};

CREATE INDEX sessions_tenant_token ON sessions (tenant_id, token_hash);
CREATE INDEX sessions_tenant_user ON sessions (tenant_id, user_id);

-- Append-only (triggers in migration 2). The primary key is what keeps the per-tenant
-- hash chain from forking: two writers can never both store the same seq.
CREATE TABLE audit_log (
    tenant_id   {{keytext}} NOT NULL REFERENCES tenants (id),
    seq         {{int64}} NOT NULL CHECK (seq > 0),
    time        {{int64}},
    actor_id    TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   {{bytes}} NOT NULL,
    hash        {{bytes}} NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) {{strict}};

-- Audit search is almost always by time range within a tenant.
CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, time);

CREATE TABLE one_time_tokens (
    tenant_id  {{keytext}} NOT NULL REFERENCES tenants (id),
    purpose    {{keytext}} NOT NULL,
    token_hash {{bytes}} NOT NULL,
    expires_at {{int64}} NOT NULL,
    used_at    {{int64}},
    PRIMARY KEY (tenant_id, purpose, token_hash)
) {{strict}};
