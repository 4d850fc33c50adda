-- Signed audit checkpoints (issue 11): the deployment's Ed25519 audit key and, per
-- tenant, the checkpoints it signed. Same conventions as migration 1: Unix-nanosecond
-- times, NULL for the zero time.

-- The audit-checkpoint signing keys (store.AuditKeyStore). One signs at a time (the
-- newest this instance can open); older ones are kept to verify older checkpoints.
-- public_key is the raw 32-byte Ed25519 key; private_key is sealed by the application
-- with the master key (seal_key_id names the field key).
CREATE TABLE audit_keys (
    kid         {{keytext}} PRIMARY KEY CHECK (kid <> ''),
    public_key  {{bytes}} NOT NULL CHECK (length(public_key) > 0),
    private_key {{bytes}} NOT NULL CHECK (length(private_key) > 0),
    seal_key_id TEXT NOT NULL,
    created_at  {{int64}}
) {{strict}};

-- A tenant's checkpoints (store.CheckpointStore): the hash of record seq of its audit
-- trail, signed with key kid at time. One per record at most.
CREATE TABLE audit_checkpoints (
    tenant_id {{keytext}} NOT NULL REFERENCES tenants (id),
    seq       {{int64}} NOT NULL CHECK (seq > 0),
    hash      {{bytes}} NOT NULL CHECK (length(hash) > 0),
    time      {{int64}},
    kid       {{keytext}} NOT NULL CHECK (kid <> ''),
    signature {{bytes}} NOT NULL CHECK (length(signature) > 0),
    PRIMARY KEY (tenant_id, seq)
) {{strict}};
