package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// roleStore is one tenant's own role definitions. Every statement binds tenant_id.
type roleStore handle

// liveRole is the condition every query on live role definitions adds.
const liveRole = ` AND deleted_at IS NULL`

// ListRoles returns the tenant's live roles ordered by name (byte-wise on both
// backends); deleted ones grant nothing, so no session sees them.
func (rs roleStore) ListRoles(ctx context.Context) ([]store.Role, error) {
	return rs.list(ctx, `WHERE tenant_id = ?`+liveRole+` ORDER BY name`)
}

// list reads the roles a condition (the tenant id its only argument) selects.
func (rs roleStore) list(ctx context.Context, where string) ([]store.Role, error) {
	s := rs.s
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, description, permissions, updated_at, deleted_at FROM tenant_roles `+where), rs.tenantID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Role
	for rows.Next() {
		var r store.Role
		var perms string
		var updated, deleted sql.NullInt64
		if err := rows.Scan(&r.Name, &r.Description, &perms, &updated, &deleted); err != nil {
			return nil, mapErr(err)
		}
		if r.Permissions, err = listOf("tenant_roles.permissions", perms); err != nil {
			return nil, err
		}
		r.UpdatedAt, r.DeletedAt = timeOf(updated), timeOf(deleted)
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// PutRole is one upsert under the handle's tenant; the tenant must exist (foreign
// key), else ErrNotFound. A deleted role keeps its name until it is purged: putting
// one under that name changes nothing and is ErrConflict.
func (rs roleStore) PutRole(ctx context.Context, r store.Role) error {
	res, err := rs.s.exec(ctx, `INSERT INTO tenant_roles (tenant_id, name, description, permissions, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET
			description = excluded.description, permissions = excluded.permissions, updated_at = excluded.updated_at
		WHERE tenant_roles.deleted_at IS NULL`,
		rs.tenantID, r.Name, r.Description, listArg(r.Permissions), timeArg(r.UpdatedAt))
	return oneRow(res, err, store.ErrConflict)
}

// SoftDeleteRole marks a live role deleted at at. Its holders keep the name in their
// roles, but a role that is not defined grants nothing, so they lose its permissions
// on their next session load; RestoreRole gives them back. ErrNotFound if there is no
// such live role.
func (rs roleStore) SoftDeleteRole(ctx context.Context, name string, at time.Time) error {
	deleted, err := requiredTime("deletion time", at)
	if err != nil {
		return err
	}
	res, err := rs.s.exec(ctx, `UPDATE tenant_roles SET deleted_at = ? WHERE tenant_id = ? AND name = ?`+liveRole,
		deleted, rs.tenantID, name)
	return oneRow(res, err, store.ErrNotFound)
}

// DeleteRole removes a live role definition for good (resetting a changed built-in
// role; roles of the tenant's own are soft-deleted by SoftDeleteRole). With ifUnused, the delete and the check that no user
// who is not deleted holds the role are one transaction, which first locks the
// tenant's row as SetRoles and SetStatus do (see setGuarded): a concurrent SetRoles
// that hands the role out, or a SetStatus that brings a holder back, either commits
// before the check reads the users (READ COMMITTED takes a fresh snapshot per
// statement) or waits until the role is gone. On SQLite BEGIN IMMEDIATE serialises
// the transaction against every other writer. A role in use is ErrInUse, and the
// rollback restores it.
func (rs roleStore) DeleteRole(ctx context.Context, name string, ifUnused bool) error {
	s := rs.s
	const del = `DELETE FROM tenant_roles WHERE tenant_id = ? AND name = ?` + liveRole
	if !ifUnused {
		res, err := s.exec(ctx, del, rs.tenantID, name)
		return oneRow(res, err, store.ErrNotFound)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTenant(ctx, tx, rs.tenantID); err != nil {
			return err // no such tenant, so no such role: ErrNotFound
		}
		res, err := tx.ExecContext(ctx, s.q(del), rs.tenantID, name)
		if err := oneRow(res, err, store.ErrNotFound); err != nil {
			return err
		}
		holders, err := s.usersWith(ctx, tx, rs.tenantID, "roles", name, true, false)
		if err != nil {
			return err
		}
		if len(holders) > 0 {
			return store.ErrInUse
		}
		return nil
	})
}

// lockTenant locks the tenant's row for the rest of tx on PostgreSQL (FOR NO KEY
// UPDATE: it conflicts with itself, not with the KEY SHARE locks that inserts
// referencing the tenant take). SQLite's transaction holds the write lock already.
// An unknown tenant is ErrNotFound.
func (s *Store) lockTenant(ctx context.Context, tx *sql.Tx, tenantID string) error {
	lock := `SELECT 1 FROM tenants WHERE id = ?`
	if s.dialect == postgresDialect {
		lock += ` FOR NO KEY UPDATE`
	}
	var one int
	return mapErr(tx.QueryRowContext(ctx, s.q(lock), tenantID).Scan(&one))
}

// queryer is what *sql.DB and *sql.Tx have in common for reading rows.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// userList is a user's id and one of their lists (roles or teams), decoded.
type userList struct {
	id   string
	list []string
}

// listColumns are the user list columns usersWith may search.
var listColumns = map[string]bool{"roles": true, "teams": true}

// usersWith returns, ordered by id, the tenant's users whose list column ("roles" or
// "teams") holds elem; live leaves deleted users out (soft-deleted ones, and any with
// the status "deleted"), and lock (on PostgreSQL) locks
// the rows FOR UPDATE for the rest of q's transaction. LIKE only narrows the rows
// down (the JSON text of every list holding elem contains elem's own JSON encoding);
// decoding decides, so neither a longer name nor SQLite's case-insensitive LIKE
// makes a false match.
func (s *Store) usersWith(ctx context.Context, q queryer, tenantID, column, elem string, live, lock bool) ([]userList, error) {
	if !listColumns[column] {
		panic("sqlstore: usersWith on column " + column)
	}
	query := `SELECT id, ` + column + ` FROM users WHERE tenant_id = ? AND ` + column + ` LIKE ? ESCAPE '!'`
	args := []any{tenantID, jsonElemPattern(elem)}
	if live {
		query += ` AND status <> ?` + liveUser
		args = append(args, store.UserDeleted)
	}
	query += ` ORDER BY id`
	if lock && s.dialect == postgresDialect {
		query += ` FOR UPDATE`
	}
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []userList
	for rows.Next() {
		var id, text string
		if err := rows.Scan(&id, &text); err != nil {
			return nil, mapErr(err)
		}
		list, err := listOf("users."+column, text)
		if err != nil {
			return nil, err
		}
		if slices.Contains(list, elem) {
			out = append(out, userList{id: id, list: list})
		}
	}
	return out, mapErr(rows.Err())
}

// likeEscaper escapes LIKE's wildcards (and the escape character '!' itself).
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// jsonElemPattern is a LIKE pattern (escape character '!') matching any text that
// contains s encoded as listArg encodes a list element.
func jsonElemPattern(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return "%" + likeEscaper.Replace(string(b)) + "%"
}

// Interface guards
var _ store.RoleStore = roleStore{}
