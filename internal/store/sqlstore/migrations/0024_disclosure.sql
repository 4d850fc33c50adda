-- The workspace's vulnerability-disclosure contact and its expiry, served as
-- /.well-known/security.txt (RFC 9116) on the workspace's hosts (issue 13 §3). An empty
-- contact: no security.txt. disclosure_expires is Unix nanoseconds, NULL for none.
ALTER TABLE tenant_settings ADD COLUMN disclosure_contact TEXT NOT NULL DEFAULT '';
ALTER TABLE tenant_settings ADD COLUMN disclosure_expires {{int64}};
