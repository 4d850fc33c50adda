-- The sessions page, members, invitations, password resets and the purge job.

-- Where a session was last seen ('' until a touch recorded an address), and when its
-- user last proved who they are in it (NULL: at sign-in, i.e. created_at).
ALTER TABLE sessions ADD COLUMN last_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN verified_at {{int64}};

-- Whom a one-time token is for (a user id; '' for none: existing setup links).
-- RevokeSubjectTokens finds a subject's tokens through the index.
ALTER TABLE one_time_tokens ADD COLUMN subject {{keytext}} NOT NULL DEFAULT '';
CREATE INDEX one_time_tokens_subject ON one_time_tokens (tenant_id, purpose, subject);

-- Named leases for jobs that one gateway instance of many should run at a time (the
-- purge). Not bound to a tenant. A lease whose expires_at has passed is free.
CREATE TABLE leases (
    name       {{keytext}} PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at {{int64}} NOT NULL
) {{strict}};
