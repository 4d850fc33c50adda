package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// tokenStore is one tenant's one-time tokens (setup links, invitations, resets),
// kept by hash only, each with the subject (user id) it is for.
type tokenStore handle

// CreateOneTimeToken stores the hash; the tenant must exist (else ErrNotFound), and the
// same hash for the same purpose twice is ErrConflict.
func (ts tokenStore) CreateOneTimeToken(ctx context.Context, purpose string, hash []byte, subject string, expires time.Time) error {
	exp, err := requiredTime("token expiry", expires)
	if err != nil {
		return err
	}
	s := ts.s
	_, err = s.exec(ctx, `INSERT INTO one_time_tokens (tenant_id, purpose, token_hash, subject, expires_at) VALUES (?, ?, ?, ?, ?)`,
		ts.tenantID, purpose, hash, subject, exp)
	return mapErr(err)
}

// ConsumeOneTimeToken is a single conditional UPDATE, never check-then-act: of any
// number of concurrent consumers exactly one sees a row change, and RETURNING hands
// that one the subject from the same statement. (PostgreSQL re-checks "used_at IS
// NULL" after waiting for a concurrent update of the row; SQLite runs writers one at
// a time.)
func (ts tokenStore) ConsumeOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (string, error) {
	n := now.UnixNano()
	var subject string
	err := ts.s.execRow(ctx, `UPDATE one_time_tokens SET used_at = ?
		WHERE tenant_id = ? AND purpose = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING subject`,
		[]any{n, ts.tenantID, purpose, hash, n}, &subject)
	if err != nil {
		return "", err
	}
	return subject, nil
}

// CheckOneTimeToken tells whether the token is live without using it (for showing a
// form before the token is spent); the decision still rests on Consume.
func (ts tokenStore) CheckOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (string, error) {
	s := ts.s
	var subject string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT subject FROM one_time_tokens
		WHERE tenant_id = ? AND purpose = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?`),
		ts.tenantID, purpose, hash, now.UnixNano()).Scan(&subject)
	if err != nil {
		return "", mapErr(err)
	}
	return subject, nil
}

// RevokeSubjectTokens marks the subject's live tokens of purpose used at now, in one
// UPDATE. Used and expired tokens are left as they are (their times stay true for the
// purge). A token consumed concurrently is used either way; none survives.
func (ts tokenStore) RevokeSubjectTokens(ctx context.Context, purpose, subject string, now time.Time) error {
	n := now.UnixNano()
	_, err := ts.s.exec(ctx, `UPDATE one_time_tokens SET used_at = ?
		WHERE tenant_id = ? AND purpose = ? AND subject = ? AND used_at IS NULL AND expires_at > ?`,
		n, ts.tenantID, purpose, subject, n)
	return err
}

// Interface guards
var _ store.OneTimeTokenStore = tokenStore{}
