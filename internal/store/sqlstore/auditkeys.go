package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditKeyStore is the deployment's audit-checkpoint keys. Like the token-signing keys
// it binds no tenant id.
type auditKeyStore struct{ s *Store }

// AuditKeys returns the audit-checkpoint keys.
func (s *Store) AuditKeys() store.AuditKeyStore { return auditKeyStore{s} }

const auditKeyColumns = `kid, public_key, private_key, seal_key_id, created_at`

// ListAuditKeys returns every key by creation time (NULL, the zero time, first on
// both backends), then kid.
func (ks auditKeyStore) ListAuditKeys(ctx context.Context) ([]store.AuditKey, error) {
	rows, err := ks.s.db.QueryContext(ctx, `SELECT `+auditKeyColumns+` FROM audit_keys
		ORDER BY created_at IS NOT NULL, created_at, kid`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.AuditKey
	for rows.Next() {
		var k store.AuditKey
		var created sql.NullInt64
		if err := rows.Scan(&k.KID, &k.PublicKey, &k.PrivateKey, &k.SealKeyID, &created); err != nil {
			return nil, mapErr(err)
		}
		k.CreatedAt = timeOf(created)
		out = append(out, k)
	}
	return out, mapErr(rows.Err())
}

// CreateAuditKey inserts k; a kid that exists is ErrConflict.
func (ks auditKeyStore) CreateAuditKey(ctx context.Context, k store.AuditKey) error {
	_, err := ks.s.exec(ctx, `INSERT INTO audit_keys (`+auditKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
		k.KID, k.PublicKey, k.PrivateKey, k.SealKeyID, timeArg(k.CreatedAt))
	return mapErr(err)
}

// checkpointStore is one tenant's audit checkpoints.
type checkpointStore handle

const checkpointColumns = `seq, hash, time, kid, signature`

// AddCheckpoint inserts c; a checkpoint at the same seq is ErrConflict.
func (cs checkpointStore) AddCheckpoint(ctx context.Context, c store.AuditCheckpoint) error {
	_, err := cs.s.exec(ctx, `INSERT INTO audit_checkpoints (tenant_id, `+checkpointColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		cs.tenantID, c.Seq, c.Hash, timeArg(c.Time), c.KeyID, c.Signature)
	return mapErr(err)
}

// LatestCheckpoint returns the checkpoint with the highest seq.
func (cs checkpointStore) LatestCheckpoint(ctx context.Context) (store.AuditCheckpoint, error) {
	var c store.AuditCheckpoint
	var t sql.NullInt64
	err := cs.s.db.QueryRowContext(ctx, cs.s.q(`SELECT `+checkpointColumns+` FROM audit_checkpoints
		WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1`), cs.tenantID).Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	c.Time = timeOf(t)
	return c, mapErr(err)
}

// ListCheckpoints returns up to limit checkpoints after afterSeq, by seq.
func (cs checkpointStore) ListCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]store.AuditCheckpoint, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := cs.s.db.QueryContext(ctx, cs.s.q(`SELECT `+checkpointColumns+` FROM audit_checkpoints
		WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`), cs.tenantID, afterSeq, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.AuditCheckpoint
	for rows.Next() {
		var c store.AuditCheckpoint
		var t sql.NullInt64
		if err := rows.Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature); err != nil {
			return nil, mapErr(err)
		}
		c.Time = timeOf(t)
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// Interface guards
var (
	_ store.AuditKeyStore   = auditKeyStore{}
	_ store.CheckpointStore = checkpointStore{}
)
