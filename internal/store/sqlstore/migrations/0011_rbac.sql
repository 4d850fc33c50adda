-- Role-based access: a tenant's own role definitions, its teams, and the record of
-- once-per-period jobs. Same conventions as migration 1: Unix-nanosecond times, NULL
-- for the zero time, JSON arrays for lists. Which roles and teams a user has stays in
-- users.roles and users.teams (JSON arrays of role names and team ids).

-- A tenant's own roles (store.RoleStore): one it added, or new permissions for a
-- built-in one. permissions is a JSON array of resource:action:scope strings, checked
-- by the application before they are stored.
CREATE TABLE tenant_roles (
    tenant_id   {{keytext}} NOT NULL REFERENCES tenants (id),
    name        {{keytext}} NOT NULL CHECK (name <> ''),
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    updated_at  {{int64}},
    PRIMARY KEY (tenant_id, name)
) {{strict}};

-- Teams (store.TeamStore). name_key is the name lower-cased: names are unique per
-- tenant in any case, and TeamByName looks a name up in any case. name is sorted
-- byte-wise (ListTeams), as every listed key is.
CREATE TABLE teams (
    tenant_id  {{keytext}} NOT NULL REFERENCES tenants (id),
    id         {{keytext}} NOT NULL CHECK (id <> ''),
    name       {{keytext}} NOT NULL CHECK (name <> ''),
    name_key   {{keytext}} NOT NULL,
    created_at {{int64}},
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name_key)
) {{strict}};

-- Per-tenant jobs done once per period (store.PeriodStore). The primary key is the
-- guard: of concurrent inserts of one (job, period) exactly one stores a row.
CREATE TABLE tenant_periods (
    tenant_id {{keytext}} NOT NULL REFERENCES tenants (id),
    job       {{keytext}} NOT NULL CHECK (job <> ''),
    period    {{keytext}} NOT NULL CHECK (period <> ''),
    done_at   {{int64}} NOT NULL,
    PRIMARY KEY (tenant_id, job, period)
) {{strict}};

-- The owners turned the periodic permission-review mail off for this tenant
-- (store.SecuritySettings.PermissionReviewOff; the review page stays).
ALTER TABLE tenant_settings ADD COLUMN permission_review_off {{bool}} NOT NULL DEFAULT FALSE;
