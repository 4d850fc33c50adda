package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// maintenance is the housekeeping that spans tenants: its statements are the only
// ones besides the tenant registry, the signing keys and the outbox that bind no
// tenant id.
type maintenance struct{ s *Store }

// Maintenance returns the cross-tenant housekeeping (leases, purges).
func (s *Store) Maintenance() store.Maintenance { return maintenance{s} }

// AcquireLease is one upsert: it inserts the lease, or takes over a row whose lease
// has ended (expires_at <= now) or that holder already has; otherwise it changes no
// row and the lease is another holder's. Concurrent callers cannot both win a free
// lease: PostgreSQL makes the second upsert wait for the first one's row lock and
// then evaluates the WHERE against the committed row (holder and expiry just written,
// so it fails); SQLite runs writers one at a time. The same holds for instances in
// separate processes, since the decision is the database's.
func (m maintenance) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, errors.New("sqlstore: a lease needs a name and a holder")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("sqlstore: lease %q: ttl must be positive, got %v", name, ttl)
	}
	at, err := requiredTime("lease time", now)
	if err != nil {
		return false, err
	}
	res, err := m.s.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at <= ? OR leases.holder = excluded.holder`,
		name, holder, now.Add(ttl).UnixNano(), at)
	if err != nil {
		return false, fmt.Errorf("sqlstore: acquiring lease %q: %w", name, err)
	}
	one, err := affectedOne(res)
	if err != nil {
		return false, fmt.Errorf("sqlstore: acquiring lease %q: %w", name, mapErr(err))
	}
	return one, nil
}

// Purge deletes, with one DELETE per table, what is dead and older than its cut-off;
// a zero cut-off skips that table. A row is only ever deleted for times that lie
// before the cut-off, so what is live at the cut-off (a session neither revoked nor
// expired by then, a step used after it, an unused, unexpired token) stays.
// Nothing references these tables (sessions, totp_used_steps, one_time_tokens and
// refresh_tokens are leaves of the schema), so no delete can fail on, or cascade
// through, a foreign key.
// Each DELETE commits on its own: a failed purge has still done its earlier part,
// and the next run finishes it.
func (m maintenance) Purge(ctx context.Context, p store.PurgeBefore) (store.PurgeResult, error) {
	var r store.PurgeResult
	var err error
	// Revocation and expiry are compared separately: a session revoked long ago
	// goes even when it would have expired much later, and a pending session that
	// nobody revoked goes once it expired.
	if r.Sessions, err = m.purge(ctx, p.Sessions, `DELETE FROM sessions WHERE revoked_at < ? OR expires_at < ?`, 2); err != nil {
		return r, fmt.Errorf("sqlstore: purging sessions: %w", err)
	}
	if r.TOTPSteps, err = m.purge(ctx, p.TOTPSteps, `DELETE FROM totp_used_steps WHERE used_at < ?`, 1); err != nil {
		return r, fmt.Errorf("sqlstore: purging TOTP steps: %w", err)
	}
	if r.Tokens, err = m.purge(ctx, p.Tokens, `DELETE FROM one_time_tokens WHERE used_at < ? OR expires_at < ?`, 2); err != nil {
		return r, fmt.Errorf("sqlstore: purging one-time tokens: %w", err)
	}
	// A pending e-mail change whose link expired with the tokens goes with them (the
	// address it names is personal data nobody can confirm any more). Counted with
	// the tokens: the change is the rest of its link.
	n, err := m.purge(ctx, p.Tokens, `DELETE FROM email_changes WHERE expires_at < ?`, 1)
	if err != nil {
		return r, fmt.Errorf("sqlstore: purging expired e-mail changes: %w", err)
	}
	r.Tokens += n
	// A refresh token goes when its family has expired or it was revoked; a spent
	// (used) one stays until then, since presenting it again is how theft is detected.
	if r.RefreshTokens, err = m.purge(ctx, p.RefreshTokens, `DELETE FROM refresh_tokens WHERE expires_at < ? OR revoked_at < ?`, 2); err != nil {
		return r, fmt.Errorf("sqlstore: purging refresh tokens: %w", err)
	}
	return r, nil
}

// ActiveSessions is one COUNT over the sessions table, across tenants (the metrics'
// active-sessions gauge).
func (m maintenance) ActiveSessions(ctx context.Context, now time.Time) (int64, error) {
	at, err := requiredTime("active sessions time", now)
	if err != nil {
		return 0, err
	}
	var n int64
	err = m.s.db.QueryRowContext(ctx, m.s.q(`SELECT COUNT(*) FROM sessions
		WHERE pending = ? AND created_at <= ? AND expires_at > ? AND (revoked_at IS NULL OR revoked_at > ?)`),
		false, at, at, at).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: counting active sessions: %w", mapErr(err))
	}
	return n, nil
}

// purge runs query with the cut-off bound to each of its n placeholders and returns
// the number of rows deleted; 0 without running it when before is zero.
func (m maintenance) purge(ctx context.Context, before time.Time, query string, n int) (int64, error) {
	if before.IsZero() {
		return 0, nil
	}
	args := make([]any, n)
	for i := range args {
		args[i] = before.UnixNano()
	}
	res, err := m.s.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	deleted, err := res.RowsAffected()
	return deleted, mapErr(err)
}

// Interface guards
var _ store.Maintenance = maintenance{}
