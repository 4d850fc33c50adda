package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Soft delete of teams and roles (issue 12 §4). DeleteTeam (teams.go) and DeleteRole
// (roles.go) mark the row; these list, restore and purge the marked rows.

// DeletedTeams returns the tenant's deleted teams, ordered by name.
func (ts teamStore) DeletedTeams(ctx context.Context) ([]store.Team, error) {
	s := ts.s
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+teamColumns+`, deleted_members FROM teams
		WHERE tenant_id = ? AND deleted_at IS NOT NULL ORDER BY name, id`), ts.tenantID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Team
	for rows.Next() {
		var t store.Team
		var created, deleted sql.NullInt64
		var members sql.NullString
		if err := rows.Scan(&t.ID, &t.Name, &created, &deleted, &members); err != nil {
			return nil, mapErr(err)
		}
		t.CreatedAt, t.DeletedAt = timeOf(created), timeOf(deleted)
		if members.Valid {
			if t.DeletedMembers, err = listOf("teams.deleted_members", members.String); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

// RestoreTeam clears the deletion mark and puts the team back into the teams of the
// users who were in it when it was deleted and still exist (deleted users included:
// restoring them later brings them back in the team). The users' rows are read FOR
// UPDATE on PostgreSQL, as editTeams does, so no concurrent change to their teams is
// lost. A team that is not deleted is ErrNotFound.
func (ts teamStore) RestoreTeam(ctx context.Context, id string) error {
	s := ts.s
	lock := `SELECT deleted_members FROM teams WHERE tenant_id = ? AND id = ? AND deleted_at IS NOT NULL`
	read := `SELECT teams FROM users WHERE tenant_id = ? AND id = ?`
	if s.dialect == postgresDialect {
		lock += ` FOR UPDATE`
		read += ` FOR UPDATE`
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var saved sql.NullString
		if err := tx.QueryRowContext(ctx, s.q(lock), ts.tenantID, id).Scan(&saved); err != nil {
			return err // not deleted: ErrNotFound
		}
		members := []string{}
		if saved.Valid {
			var err error
			if members, err = listOf("teams.deleted_members", saved.String); err != nil {
				return err
			}
		}
		for _, uid := range members {
			var text string
			err := tx.QueryRowContext(ctx, s.q(read), ts.tenantID, uid).Scan(&text)
			if err == sql.ErrNoRows {
				continue // purged meanwhile
			} else if err != nil {
				return err
			}
			teams, err := listOf("users.teams", text)
			if err != nil {
				return err
			}
			if slices.Contains(teams, id) {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET teams = ? WHERE tenant_id = ? AND id = ?`),
				listArg(append(teams, id)), ts.tenantID, uid); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE teams SET deleted_at = NULL, deleted_members = NULL WHERE tenant_id = ? AND id = ?`),
			ts.tenantID, id)
		return err
	})
}

// PurgeTeam deletes a team deleted before deletedBefore (ErrNotFound otherwise: live,
// restored meanwhile, or deleted too recently). No user refers to it any more: the
// delete took it out of every member's teams, and a deleted team takes no members.
func (ts teamStore) PurgeTeam(ctx context.Context, id string, deletedBefore time.Time) error {
	before, err := requiredTime("purge cut-off", deletedBefore)
	if err != nil {
		return err
	}
	res, err := ts.s.exec(ctx, `DELETE FROM teams WHERE tenant_id = ? AND id = ? AND deleted_at IS NOT NULL AND deleted_at < ?`,
		ts.tenantID, id, before)
	return oneRow(res, err, store.ErrNotFound)
}

// DeletedRoles returns the tenant's deleted roles, ordered by name.
func (rs roleStore) DeletedRoles(ctx context.Context) ([]store.Role, error) {
	return rs.list(ctx, `WHERE tenant_id = ? AND deleted_at IS NOT NULL ORDER BY name`)
}

// RestoreRole clears the deletion mark: its holders, who kept the name in their
// roles, have its permissions again. A role that is not deleted is ErrNotFound.
func (rs roleStore) RestoreRole(ctx context.Context, name string) error {
	res, err := rs.s.exec(ctx, `UPDATE tenant_roles SET deleted_at = NULL WHERE tenant_id = ? AND name = ? AND deleted_at IS NOT NULL`,
		rs.tenantID, name)
	return oneRow(res, err, store.ErrNotFound)
}

// PurgeRole deletes a role deleted before deletedBefore and, in the same transaction,
// takes its name out of the roles of every user who holds it (deleted users
// included), so that a role created later under the same name grants nothing to
// its former holders. The role row is checked first, locked on PostgreSQL, so a
// role restored meanwhile is never purged. ErrNotFound if there is no such role.
func (rs roleStore) PurgeRole(ctx context.Context, name string, deletedBefore time.Time) error {
	before, err := requiredTime("purge cut-off", deletedBefore)
	if err != nil {
		return err
	}
	s := rs.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// Serialised with SetRoles (see DeleteRole): no holder is added unseen.
		if err := s.lockTenant(ctx, tx, rs.tenantID); err != nil {
			return err
		}
		if err := s.lockDeleted(ctx, tx, "tenant_roles", "name", rs.tenantID, name, before); err != nil {
			return err
		}
		holders, err := s.usersWith(ctx, tx, rs.tenantID, "roles", name, false, true)
		if err != nil {
			return err
		}
		for _, h := range holders {
			rest := slices.DeleteFunc(h.list, func(r string) bool { return r == name })
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET roles = ? WHERE tenant_id = ? AND id = ?`),
				listArg(rest), rs.tenantID, h.id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM tenant_roles WHERE tenant_id = ? AND name = ?`), rs.tenantID, name)
		return err
	})
}
