package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// userStore is one tenant's users. Every statement binds tenant_id first.
type userStore handle

const userColumns = `id, tenant_id, email, display_name, password_hash, status, roles, teams, created_at, last_login_at, no_location_profiling`

// userSelect reads a user row (scanUser), deletion time included.
const userSelect = `SELECT ` + userColumns + `, deleted_at FROM users`

// liveUser is the condition every query on live users adds: deleted rows stay out.
const liveUser = ` AND deleted_at IS NULL`

// CreateUser stores u under the handle's tenant, whatever u.TenantID says. The tenant
// must exist (foreign key), else ErrNotFound.
func (us userStore) CreateUser(ctx context.Context, u store.User) error {
	s := us.s
	_, err := s.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, us.tenantID, u.Email, u.DisplayName, u.PasswordHash, u.Status,
		listArg(u.Roles), listArg(u.Teams), timeArg(u.CreatedAt), timeArg(u.LastLoginAt), u.NoLocationProfiling)
	return mapErr(err)
}

func (us userStore) UserByID(ctx context.Context, id string) (store.User, error) {
	s := us.s
	row := s.db.QueryRowContext(ctx, s.q(userSelect+` WHERE tenant_id = ? AND id = ?`+liveUser), us.tenantID, id)
	return scanUser(row)
}

func (us userStore) UserByEmail(ctx context.Context, email string) (store.User, error) {
	s := us.s
	row := s.db.QueryRowContext(ctx, s.q(userSelect+` WHERE tenant_id = ? AND email = ?`+liveUser), us.tenantID, email)
	return scanUser(row)
}

func (us userStore) ListUsers(ctx context.Context) ([]store.User, error) {
	return us.list(ctx, userSelect+` WHERE tenant_id = ?`+liveUser+` ORDER BY email`)
}

// list runs a query of users with the tenant id as its only argument.
func (us userStore) list(ctx context.Context, query string) ([]store.User, error) {
	s := us.s
	rows, err := s.db.QueryContext(ctx, s.q(query), us.tenantID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, mapErr(rows.Err())
}

func (us userStore) CountUsers(ctx context.Context) (int, error) {
	s := us.s
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM users WHERE tenant_id = ?`), us.tenantID).Scan(&n)
	return n, mapErr(err)
}

func (us userStore) SetPasswordHash(ctx context.Context, userID, hash string) error {
	return us.update(ctx, `UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?`+liveUser, hash, userID)
}

// SetNoLocationProfiling records the user's objection (or consent) to location profiling.
func (us userStore) SetNoLocationProfiling(ctx context.Context, userID string, objects bool) error {
	return us.update(ctx, `UPDATE users SET no_location_profiling = ? WHERE tenant_id = ? AND id = ?`+liveUser, objects, userID)
}

// SetDisplayName changes the name shown for the user; it guards nothing.
func (us userStore) SetDisplayName(ctx context.Context, userID, name string) error {
	return us.update(ctx, `UPDATE users SET display_name = ? WHERE tenant_id = ? AND id = ?`+liveUser, name, userID)
}

// SetEmail changes a live user's address; the UNIQUE (tenant_id, email) constraint
// refuses one that another row of the tenant has (ErrConflict), atomically.
func (us userStore) SetEmail(ctx context.Context, userID, email string) error {
	return us.update(ctx, `UPDATE users SET email = ? WHERE tenant_id = ? AND id = ?`+liveUser, email, userID)
}

func (us userStore) SetLastLogin(ctx context.Context, userID string, at time.Time) error {
	return us.update(ctx, `UPDATE users SET last_login_at = ? WHERE tenant_id = ? AND id = ?`+liveUser, timeArg(at), userID)
}

// update runs a one-row update of the tenant's user id; ErrNotFound if it matched none.
func (us userStore) update(ctx context.Context, query string, value any, userID string) error {
	s := us.s
	res, err := s.exec(ctx, query, value, us.tenantID, userID)
	return oneRow(res, err, store.ErrNotFound)
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var roles, teams string
	var created, lastLogin, deleted sql.NullInt64
	err := sc.Scan(&u.ID, &u.TenantID, &u.Email, &u.DisplayName, &u.PasswordHash, &u.Status,
		&roles, &teams, &created, &lastLogin, &u.NoLocationProfiling, &deleted)
	if err != nil {
		return store.User{}, mapErr(err)
	}
	if u.Roles, err = listOf("users.roles", roles); err != nil {
		return store.User{}, err
	}
	if u.Teams, err = listOf("users.teams", teams); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.LastLoginAt, u.DeletedAt = timeOf(created), timeOf(lastLogin), timeOf(deleted)
	return u, nil
}

// Interface guards
var _ store.UserStore = userStore{}
