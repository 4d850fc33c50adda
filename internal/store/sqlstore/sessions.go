package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// sessionStore is one tenant's sessions. Every statement binds tenant_id.
type sessionStore handle

const sessionColumns = `id, tenant_id, user_id, token_hash, auth_methods, created_at, expires_at, last_active, revoked_at, ip, user_agent, pending, last_ip, verified_at`

// CreateSession stores s under the handle's tenant. The user must exist in this tenant
// (foreign key), else ErrNotFound; a taken id or token hash is ErrConflict.
func (ss sessionStore) CreateSession(ctx context.Context, sess store.Session) error {
	s := ss.s
	expires, err := requiredTime("session expiry", sess.ExpiresAt)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, ss.tenantID, sess.UserID, sess.TokenHash, listArg(sess.AuthMethods),
		timeArg(sess.CreatedAt), expires, timeArg(sess.LastActive), timeArg(sess.RevokedAt),
		cleanText(sess.IP), cleanText(sess.UserAgent), sess.Pending, cleanText(sess.LastIP), timeArg(sess.VerifiedAt))
	return mapErr(err)
}

func (ss sessionStore) SessionByTokenHash(ctx context.Context, hash []byte) (store.Session, error) {
	s := ss.s
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE tenant_id = ? AND token_hash = ?`), ss.tenantID, hash)
	return scanSession(row)
}

func (ss sessionStore) SessionByID(ctx context.Context, id string) (store.Session, error) {
	s := ss.s
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE tenant_id = ? AND id = ?`), ss.tenantID, id)
	return scanSession(row)
}

// RevokeSession sets revoked_at only if it is not set yet, so a second revocation
// keeps the first time and still succeeds.
func (ss sessionStore) RevokeSession(ctx context.Context, id string, at time.Time) error {
	revoked, err := requiredTime("revocation time", at)
	if err != nil {
		return err
	}
	return ss.updateOrExists(ctx, `UPDATE sessions SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`, []any{revoked}, id)
}

// TouchSession moves last_active forward in one conditional UPDATE, so concurrent
// touches from several instances can never move it backward. The address is written
// by the same statement, so last_ip always belongs to the latest touch that carried
// one; a touch without an address (or one that lost the race) keeps the old one.
func (ss sessionStore) TouchSession(ctx context.Context, id string, at time.Time, ip string) error {
	t, err := requiredTime("activity time", at)
	if err != nil {
		return err
	}
	if ip == "" {
		return ss.updateOrExists(ctx, `UPDATE sessions SET last_active = ?
			WHERE tenant_id = ? AND id = ? AND (last_active IS NULL OR last_active < ?)`, []any{t}, id, t)
	}
	return ss.updateOrExists(ctx, `UPDATE sessions SET last_active = ?, last_ip = ?
		WHERE tenant_id = ? AND id = ? AND (last_active IS NULL OR last_active < ?)`, []any{t, cleanText(ip)}, id, t)
}

// VerifySession moves verified_at forward in one conditional UPDATE, like TouchSession:
// a late, slower re-authentication never winds the proof back.
func (ss sessionStore) VerifySession(ctx context.Context, id string, at time.Time) error {
	t, err := requiredTime("verification time", at)
	if err != nil {
		return err
	}
	return ss.updateOrExists(ctx, `UPDATE sessions SET verified_at = ?
		WHERE tenant_id = ? AND id = ? AND (verified_at IS NULL OR verified_at < ?)`, []any{t}, id, t)
}

// RevokeUserSessions is one UPDATE over the user's sessions in this tenant. Sessions
// revoked already are left out, so they keep their first revocation time and are not
// counted. Session ids are never empty, so except "" spares none. An unknown user has
// no sessions: 0, nil.
func (ss sessionStore) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time) (int, error) {
	revoked, err := requiredTime("revocation time", at)
	if err != nil {
		return 0, err
	}
	res, err := ss.s.exec(ctx, `UPDATE sessions SET revoked_at = ?
		WHERE tenant_id = ? AND user_id = ? AND id <> ? AND revoked_at IS NULL`, revoked, ss.tenantID, userID, except)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}

// updateOrExists runs a conditional update of one session; its placeholders take set,
// then the tenant id and session id, then extra. When it changes nothing, either the
// session is absent (ErrNotFound) or the condition made it a no-op (nil); the second
// query runs only in that rarer case.
func (ss sessionStore) updateOrExists(ctx context.Context, query string, set []any, id string, extra ...any) error {
	s := ss.s
	args := append(append(set, ss.tenantID, id), extra...)
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	one, err := affectedOne(res)
	if err != nil || one {
		return mapErr(err)
	}
	var exists int
	err = s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM sessions WHERE tenant_id = ? AND id = ?`), ss.tenantID, id).Scan(&exists)
	return mapErr(err)
}

// ListUserSessions returns the user's live sessions, newest first.
func (ss sessionStore) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	s := ss.s
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`), ss.tenantID, userID, now.UnixNano())
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, mapErr(rows.Err())
}

func scanSession(sc scanner) (store.Session, error) {
	var sess store.Session
	var methods string
	var created, expires, lastActive, revoked, verified sql.NullInt64
	err := sc.Scan(&sess.ID, &sess.TenantID, &sess.UserID, &sess.TokenHash, &methods,
		&created, &expires, &lastActive, &revoked, &sess.IP, &sess.UserAgent, &sess.Pending,
		&sess.LastIP, &verified)
	if err != nil {
		return store.Session{}, mapErr(err)
	}
	if sess.AuthMethods, err = listOf("sessions.auth_methods", methods); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt, sess.ExpiresAt = timeOf(created), timeOf(expires)
	sess.LastActive, sess.RevokedAt = timeOf(lastActive), timeOf(revoked)
	sess.VerifiedAt = timeOf(verified)
	return sess, nil
}

// Interface guards
var _ store.SessionStore = sessionStore{}
