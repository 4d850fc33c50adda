package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// refreshTokenStore is one tenant's refresh tokens, kept by hash only. Every
// statement binds tenant_id.
type refreshTokenStore handle

const refreshTokenColumns = `id, family_id, parent_id, session_id, user_id, token_hash, created_at, expires_at, used_at, revoked_at`

// CreateRefreshToken stores t under the handle's tenant, its used and revoked times as
// given (zero: not used, not revoked). The user must exist in this tenant (foreign
// key), else ErrNotFound; a taken id (in this tenant) or token hash (in any) is
// ErrConflict; an expiry is required.
func (rs refreshTokenStore) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	s := rs.s
	args, err := rs.insertArgs(t)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, insertRefreshToken, args...)
	return mapErr(err)
}

const insertRefreshToken = `INSERT INTO refresh_tokens (tenant_id, ` + refreshTokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertArgs are the arguments of insertRefreshToken for t in the handle's tenant.
func (rs refreshTokenStore) insertArgs(t store.RefreshToken) ([]any, error) {
	expires, err := requiredTime("refresh token expiry", t.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return []any{rs.tenantID, t.ID, t.FamilyID, t.ParentID, t.SessionID, t.UserID, t.TokenHash,
		timeArg(t.CreatedAt), expires, timeArg(t.UsedAt), timeArg(t.RevokedAt)}, nil
}

// RefreshTokenByHash finds the token in this tenant, whatever its state; a token of
// another tenant is ErrNotFound, as if it did not exist.
func (rs refreshTokenStore) RefreshTokenByHash(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	s := rs.s
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+refreshTokenColumns+` FROM refresh_tokens
		WHERE tenant_id = ? AND token_hash = ?`), rs.tenantID, hash)
	return scanRefreshToken(row)
}

// errNotChild is returned when the child given to RotateRefreshToken does not continue
// its parent: a token outside its parent's family would escape the family's
// revocation.
var errNotChild = errors.New("sqlstore: the new refresh token does not continue its parent (parent id, family, session and user must match)")

// RotateRefreshToken is one transaction: a conditional UPDATE marks the parent used
// (only if it is neither used nor revoked, in this tenant), and only if it changed the
// row is the child inserted, under the handle's tenant. Of concurrent rotations of
// one parent exactly one changes the row: PostgreSQL makes the others wait for the
// winner's row lock and then re-evaluates their WHERE against the committed row
// (used_at is set, so they change nothing); SQLite runs write transactions one at a
// time (BEGIN IMMEDIATE). A failed insert (a taken hash: ErrConflict) rolls the
// parent back to unused.
//
// The child must name the parent as ParentID and carry its family, session and user;
// otherwise nothing changes and an error is returned (a caller bug, not a lost race).
func (rs refreshTokenStore) RotateRefreshToken(ctx context.Context, parentID string, child store.RefreshToken, now time.Time) (bool, error) {
	used, err := requiredTime("refresh token rotation time", now)
	if err != nil {
		return false, err
	}
	if child.ParentID != parentID {
		return false, errNotChild
	}
	args, err := rs.insertArgs(child)
	if err != nil {
		return false, err
	}
	s := rs.s
	rotated := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var family, session, user string
		err := tx.QueryRowContext(ctx, s.q(`UPDATE refresh_tokens SET used_at = ?
			WHERE tenant_id = ? AND id = ? AND used_at IS NULL AND revoked_at IS NULL
			RETURNING family_id, session_id, user_id`),
			used, rs.tenantID, parentID).Scan(&family, &session, &user)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // unknown, used or revoked: nothing to do
		}
		if err != nil {
			return err
		}
		if child.FamilyID != family || child.SessionID != session || child.UserID != user {
			return errNotChild
		}
		if _, err := tx.ExecContext(ctx, s.q(insertRefreshToken), args...); err != nil {
			return err
		}
		rotated = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return rotated, nil
}

// RevokeRefreshFamily is one UPDATE over the family's tokens in this tenant. Tokens
// revoked already keep their first revocation time and are not counted. An unknown
// family has no tokens: 0, nil.
func (rs refreshTokenStore) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int, error) {
	revoked, err := requiredTime("refresh family revocation time", now)
	if err != nil {
		return 0, err
	}
	res, err := rs.s.exec(ctx, `UPDATE refresh_tokens SET revoked_at = ?
		WHERE tenant_id = ? AND family_id = ? AND revoked_at IS NULL`, revoked, rs.tenantID, familyID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}

// LiveRefreshSessions returns, each once and ordered by id, the user's sessions with
// a token that is neither used, revoked nor expired at now (one that expires at now
// has expired).
func (rs refreshTokenStore) LiveRefreshSessions(ctx context.Context, userID string, now time.Time) ([]string, error) {
	s := rs.s
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT session_id FROM refresh_tokens
		WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?
		ORDER BY session_id`), rs.tenantID, userID, now.UnixNano())
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, id)
	}
	return out, mapErr(rows.Err())
}

func scanRefreshToken(sc scanner) (store.RefreshToken, error) {
	var t store.RefreshToken
	var created, expires, used, revoked sql.NullInt64
	err := sc.Scan(&t.ID, &t.FamilyID, &t.ParentID, &t.SessionID, &t.UserID, &t.TokenHash,
		&created, &expires, &used, &revoked)
	if err != nil {
		return store.RefreshToken{}, mapErr(err)
	}
	t.CreatedAt, t.ExpiresAt = timeOf(created), timeOf(expires)
	t.UsedAt, t.RevokedAt = timeOf(used), timeOf(revoked)
	return t, nil
}

// Interface guards
var _ store.RefreshTokenStore = refreshTokenStore{}
