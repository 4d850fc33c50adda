-- E-mail rectification (issue 12 §3, store.EmailChangeStore): the address a member
-- asked to change to, waiting until the link mailed to it is opened. One per member:
-- a newer request replaces the row (and its link). The link's token lives in
-- one_time_tokens (purpose "email_change"); token_hash binds this row to it, so that
-- an older link never confirms a newer address. The row goes with the member (a
-- purge or an erasure), and with the change once confirmed.
CREATE TABLE email_changes (
    tenant_id  {{keytext}} NOT NULL,
    user_id    {{keytext}} NOT NULL,
    new_email  TEXT NOT NULL CHECK (new_email <> ''),
    token_hash {{bytes}} NOT NULL,
    created_at {{int64}} NOT NULL,
    expires_at {{int64}} NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

-- The maintenance purge drops changes whose link expired long ago.
CREATE INDEX email_changes_expiry ON email_changes (expires_at);

-- Reminders to the admins about an open data-subject request (issue 12 §3): when the
-- reminder at 7 days left and the one at 2 days left went out (NULL: not yet). A
-- conditional UPDATE claims each, so that every request gets each reminder at most
-- once, whichever instance sends it and however often instances restart.
ALTER TABLE privacy_requests ADD COLUMN reminded_7d_at {{int64}};
ALTER TABLE privacy_requests ADD COLUMN reminded_2d_at {{int64}};
