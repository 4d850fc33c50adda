-- What a tenant does when a sign-in looks unusual: '' or 'alert' (e-mail and audit),
-- 'second_factor' (also refuse it to users without a second factor), 'block' (refuse it).
ALTER TABLE tenant_settings ADD COLUMN anomaly_action TEXT NOT NULL DEFAULT '';
