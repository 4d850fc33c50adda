package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ownerRole is the role a tenant must keep at least one active holder of.
const ownerRole = "owner"

// SetRoles replaces the user's roles, refusing (ErrLastOwner) to demote the tenant's
// last active owner.
func (us userStore) SetRoles(ctx context.Context, userID string, roles []string) error {
	return us.setGuarded(ctx, userID, `UPDATE users SET roles = ? WHERE tenant_id = ? AND id = ?`+liveUser, listArg(roles),
		func(status string, _ []string) bool { return isActiveOwner(status, roles) }, nil)
}

// SetStatus changes the user's status, refusing (ErrLastOwner) to disable, restrict
// or delete the tenant's last active owner.
func (us userStore) SetStatus(ctx context.Context, userID, status string) error {
	return us.setGuarded(ctx, userID, `UPDATE users SET status = ? WHERE tenant_id = ? AND id = ?`+liveUser, status,
		func(_ string, roles []string) bool { return isActiveOwner(status, roles) }, nil)
}

// DeleteUser marks a live user deleted, refusing (ErrLastOwner) to delete the
// tenant's last active owner, and ends their sessions and refresh tokens in the same
// transaction: no request after the commit finds a live session of theirs.
func (us userStore) DeleteUser(ctx context.Context, userID string, at time.Time) error {
	deleted, err := requiredTime("deletion time", at)
	if err != nil {
		return err
	}
	s := us.s
	return us.setGuarded(ctx, userID, `UPDATE users SET deleted_at = ? WHERE tenant_id = ? AND id = ?`+liveUser, deleted,
		func(string, []string) bool { return false },
		func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET revoked_at = ?
				WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL`), deleted, us.tenantID, userID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET revoked_at = ?
				WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL`), deleted, us.tenantID, userID)
			return err
		})
}

// setGuarded runs update (placeholders: value, tenant id, user id) unless it would
// take the tenant's last active owner away; ownerAfter tells, from the user's current
// status and roles, whether they are an active owner once the update is applied, and
// then (nil: nothing) runs in the same transaction after the update.
//
// Checking and writing must be one atomic step against other such changes: two owners
// demoting each other at once must not both see "another owner is left". A subquery
// in the UPDATE is not enough on PostgreSQL, where under READ COMMITTED each
// transaction counts the owners in its own snapshot and neither sees the other's
// uncommitted demotion. So every guarded change first locks the tenant's row, and the
// lock queues them: the second one reads the users only after the first committed
// (READ COMMITTED takes a fresh snapshot per statement). The lock is FOR NO KEY
// UPDATE, which conflicts with itself but not with the KEY SHARE locks that inserts
// referencing the tenant (new users, audit records) take, so those do not wait. On
// SQLite the transaction's BEGIN IMMEDIATE holds the database write lock from the
// start, which serialises it against every other writer, in this process or another.
//
// Only a change that takes an active owner away is checked: a tenant that has no
// active owner (being set up, say) can still change its other members.
func (us userStore) setGuarded(ctx context.Context, userID, update string, value any, ownerAfter func(status string, roles []string) bool, then func(*sql.Tx) error) error {
	s := us.s
	lock := `SELECT 1 FROM tenants WHERE id = ?`
	if s.dialect == postgresDialect {
		lock += ` FOR NO KEY UPDATE`
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(lock), us.tenantID).Scan(&one); err != nil {
			return err // no such tenant, so no such user: ErrNotFound
		}
		var status, rolesText string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT status, roles FROM users WHERE tenant_id = ? AND id = ?`+liveUser),
			us.tenantID, userID).Scan(&status, &rolesText); err != nil {
			return err
		}
		roles, err := listOf("users.roles", rolesText)
		if err != nil {
			return err
		}
		if isActiveOwner(status, roles) && !ownerAfter(status, roles) {
			others, err := us.otherActiveOwner(ctx, tx, userID)
			if err != nil {
				return err
			}
			if !others {
				return store.ErrLastOwner
			}
		}
		if _, err = tx.ExecContext(ctx, s.q(update), value, us.tenantID, userID); err != nil || then == nil {
			return err
		}
		return then(tx)
	})
}

// otherActiveOwner tells whether the tenant has an active owner besides userID. LIKE
// only narrows the rows down (the JSON text of every list that holds "owner" contains
// the word in quotes); decoding decides, so neither "co-owner" nor a role whose
// escaped text happens to contain the quoted word counts.
func (us userStore) otherActiveOwner(ctx context.Context, tx *sql.Tx, userID string) (bool, error) {
	s := us.s
	rows, err := tx.QueryContext(ctx, s.q(`SELECT status, roles FROM users
		WHERE tenant_id = ? AND id <> ? AND status = ? AND roles LIKE '%"owner"%'`+liveUser), us.tenantID, userID, store.UserActive)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var status, rolesText string
		if err := rows.Scan(&status, &rolesText); err != nil {
			return false, err
		}
		roles, err := listOf("users.roles", rolesText)
		if err != nil {
			return false, err
		}
		if isActiveOwner(status, roles) {
			return true, nil
		}
	}
	return false, rows.Err()
}

// isActiveOwner is the guard's definition of an owner: an active user with the role.
func isActiveOwner(status string, roles []string) bool {
	return status == store.UserActive && slices.Contains(roles, ownerRole)
}
