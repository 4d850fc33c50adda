-- A user's objection to location profiling (GDPR art. 21): when set, sign-ins are not
-- geolocated and no location is kept for them.
ALTER TABLE users ADD COLUMN no_location_profiling {{bool}} NOT NULL DEFAULT FALSE;
