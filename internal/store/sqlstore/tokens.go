package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// tokenStore is one tenant's one-time tokens (setup links, invitations, resets),
// kept by hash only.
type tokenStore handle

// CreateOneTimeToken stores the hash; the tenant must exist (else ErrNotFound), and the
// same hash for the same purpose twice is ErrConflict.
func (ts tokenStore) CreateOneTimeToken(ctx context.Context, purpose string, hash []byte, expires time.Time) error {
	exp, err := requiredTime("token expiry", expires)
	if err != nil {
		return err
	}
	s := ts.s
	_, err = s.exec(ctx, `INSERT INTO one_time_tokens (tenant_id, purpose, token_hash, expires_at) VALUES (?, ?, ?, ?)`,
		ts.tenantID, purpose, hash, exp)
	return mapErr(err)
}

// ConsumeOneTimeToken is a single conditional UPDATE, never check-then-act: of any
// number of concurrent consumers exactly one sees a row change. (PostgreSQL re-checks
// "used_at IS NULL" after waiting for a concurrent update of the row; SQLite runs
// writers one at a time.)
func (ts tokenStore) ConsumeOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) error {
	s := ts.s
	n := now.UnixNano()
	res, err := s.exec(ctx, `UPDATE one_time_tokens SET used_at = ?
		WHERE tenant_id = ? AND purpose = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?`,
		n, ts.tenantID, purpose, hash, n)
	return oneRow(res, err, store.ErrNotFound)
}

// CheckOneTimeToken tells whether the token is live without using it (for showing a
// form before the token is spent); the decision still rests on Consume.
func (ts tokenStore) CheckOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) error {
	s := ts.s
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM one_time_tokens
		WHERE tenant_id = ? AND purpose = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?`),
		ts.tenantID, purpose, hash, now.UnixNano()).Scan(&one)
	return mapErr(err)
}

// Interface guards
var _ store.OneTimeTokenStore = tokenStore{}
