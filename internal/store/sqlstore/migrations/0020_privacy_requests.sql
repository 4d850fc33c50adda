-- Data-subject requests (issue 12 §3, store.PrivacyRequestStore): what a member asked
-- for (access, rectification, erasure, portability, restriction, objection), when, the
-- 30-day deadline, and how and by whom it was resolved. The member is named by id only
-- and without a foreign key: the row outlives an erased member and then holds no
-- personal data. Times are Unix nanoseconds, NULL for the zero time.
CREATE TABLE privacy_requests (
    tenant_id   {{keytext}} NOT NULL REFERENCES tenants (id),
    id          {{keytext}} NOT NULL CHECK (id <> ''),
    user_id     {{keytext}} NOT NULL,
    kind        {{keytext}} NOT NULL CHECK (kind IN ('access', 'rectification', 'erasure', 'portability', 'restriction', 'objection')),
    status      {{keytext}} NOT NULL CHECK (status IN ('open', 'fulfilled', 'refused')),
    created_at  {{int64}} NOT NULL,
    deadline    {{int64}} NOT NULL,
    resolved_at {{int64}},
    resolved_by TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
) {{strict}};

-- The Requests page lists a tenant's requests newest first; the user side lists one
-- member's.
CREATE INDEX privacy_requests_created ON privacy_requests (tenant_id, created_at);
CREATE INDEX privacy_requests_user ON privacy_requests (tenant_id, user_id, created_at);
