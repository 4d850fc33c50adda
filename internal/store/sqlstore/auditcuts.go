package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditCutStore is one tenant's audit expiry cuts: the only path by which audit rows
// are deleted. The database enforces it (migration 16): a DELETE on audit_log passes
// its trigger only for rows under a cut of their tenant, and audit_cuts itself is
// append-only.
type auditCutStore handle

// AuditCuts returns the tenant's expiry cuts.
func (h handle) AuditCuts() store.AuditCutStore { return auditCutStore(h) }

const auditCutColumns = `through_seq, hash, time, kid, signature`

// ExpireAudit checks that record c.Seq is stored with hash c.Hash and is not the
// newest, then inserts the cut and deletes the records up to it, in one transaction.
func (cs auditCutStore) ExpireAudit(ctx context.Context, c store.AuditCut) (int64, error) {
	s := cs.s
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var hash []byte
		err := tx.QueryRowContext(ctx, s.q(`SELECT hash FROM audit_log WHERE tenant_id = ? AND seq = ?`), cs.tenantID, c.Seq).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: no audit record %d to cut at", store.ErrNotFound, c.Seq)
		case err != nil:
			return err
		case !bytes.Equal(hash, c.Hash):
			return fmt.Errorf("%w: audit record %d does not have the hash the cut signs", store.ErrConflict, c.Seq)
		}
		var later int
		err = tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM audit_log WHERE tenant_id = ? AND seq > ? LIMIT 1`), cs.tenantID, c.Seq).Scan(&later)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: audit record %d is the newest: it carries the chain on and does not expire", store.ErrConflict, c.Seq)
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit_cuts (tenant_id, `+auditCutColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
			cs.tenantID, c.Seq, c.Hash, timeArg(c.Time), c.KeyID, c.Signature); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM audit_log WHERE tenant_id = ? AND seq <= ?`), cs.tenantID, c.Seq)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: expiring audit records through %d: %w", c.Seq, err)
	}
	return n, nil
}

// LastCut returns the cut with the highest through_seq <= atMost.
func (cs auditCutStore) LastCut(ctx context.Context, atMost int64) (store.AuditCut, error) {
	var c store.AuditCut
	var t sql.NullInt64
	err := cs.s.db.QueryRowContext(ctx, cs.s.q(`SELECT `+auditCutColumns+` FROM audit_cuts
		WHERE tenant_id = ? AND through_seq <= ? ORDER BY through_seq DESC LIMIT 1`), cs.tenantID, atMost).
		Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature)
	if err != nil {
		return store.AuditCut{}, mapErr(err)
	}
	c.Time = timeOf(t)
	return c, nil
}

// Interface guards
var _ store.AuditCutStore = auditCutStore{}
