-- Sign-in history for anomaly detection (store.LoginHistoryStore). login_events keeps
-- each user's latest sign-ins (the application prunes to the last 100 on insert);
-- login_devices and login_countries keep, for good, which devices and countries a
-- user has signed in from, with the first and last time seen.

-- id is assigned in insertion order: among events with equal times, the greater id
-- is the one recorded later. Coordinates are NULL for NaN (SQLite cannot store NaN).
CREATE TABLE login_events (
    id           {{autoid}},
    tenant_id    {{keytext}} NOT NULL,
    user_id      {{keytext}} NOT NULL,
    at           {{int64}} NOT NULL,
    ip           TEXT NOT NULL,
    country      TEXT NOT NULL,
    city         TEXT NOT NULL,
    lat          {{float64}},
    lon          {{float64}},
    accuracy_km  {{float64}},
    has_location {{bool}} NOT NULL,
    device_key   TEXT NOT NULL,
    device_label TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

-- The latest event of a user, and the pruning of older ones.
CREATE INDEX login_events_user_at ON login_events (tenant_id, user_id, at, id);

-- label is the device's description at its latest sign-in.
CREATE TABLE login_devices (
    tenant_id  {{keytext}} NOT NULL,
    user_id    {{keytext}} NOT NULL,
    device_key {{keytext}} NOT NULL CHECK (device_key <> ''),
    label      TEXT NOT NULL,
    first_seen {{int64}} NOT NULL,
    last_seen  {{int64}} NOT NULL,
    PRIMARY KEY (tenant_id, user_id, device_key),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};

CREATE TABLE login_countries (
    tenant_id  {{keytext}} NOT NULL,
    user_id    {{keytext}} NOT NULL,
    country    {{keytext}} NOT NULL CHECK (country <> ''),
    first_seen {{int64}} NOT NULL,
    last_seen  {{int64}} NOT NULL,
    PRIMARY KEY (tenant_id, user_id, country),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) {{strict}};
