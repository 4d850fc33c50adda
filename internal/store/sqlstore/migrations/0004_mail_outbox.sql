-- The durable mail outbox (notify.Outbox): rendered messages waiting for the SMTP
-- worker. It belongs to no tenant handle: one worker drains every tenant's mail, and
-- each row names its tenant only for the record, deliberately without a foreign key,
-- so that the queue never blocks or is blocked by the tenant registry.
--
-- created_at and next_attempt are NOT NULL so that the due scan and its order are one
-- index range on both databases (they disagree on where NULL sorts): the zero time
-- (for next_attempt: due at once) is stored as the smallest int64. claimed_until
-- NULL: not claimed. A sent message is deleted.
CREATE TABLE mail_outbox (
    id            {{keytext}} PRIMARY KEY,
    tenant_id     {{keytext}} NOT NULL,
    recipient     TEXT NOT NULL,
    subject       TEXT NOT NULL,
    text_body     TEXT NOT NULL,
    html_body     TEXT NOT NULL,
    created_at    {{int64}} NOT NULL,
    next_attempt  {{int64}} NOT NULL,
    claimed_until {{int64}},
    attempts      {{int64}} NOT NULL CHECK (attempts >= 0),
    last_error    TEXT NOT NULL
) {{strict}};

-- ClaimDue's scan, in its ORDER BY.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt, created_at, id);
