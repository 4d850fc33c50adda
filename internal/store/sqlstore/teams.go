package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// teamStore is one tenant's teams; membership lives in users.teams (a JSON array of
// team ids). Every statement binds tenant_id.
type teamStore handle

const teamColumns = `id, name, created_at, deleted_at`

// liveTeam is the condition every query on live teams adds: deleted rows stay out.
const liveTeam = ` AND deleted_at IS NULL`

// teamNameKey is the form in which team names are unique and looked up.
func teamNameKey(name string) string { return strings.ToLower(name) }

// CreateTeam stores t under the handle's tenant. A taken id, or a name taken in any
// case, is ErrConflict; an unknown tenant ErrNotFound (foreign key).
func (ts teamStore) CreateTeam(ctx context.Context, t store.Team) error {
	_, err := ts.s.exec(ctx, `INSERT INTO teams (tenant_id, id, name, name_key, created_at) VALUES (?, ?, ?, ?, ?)`,
		ts.tenantID, t.ID, t.Name, teamNameKey(t.Name), timeArg(t.CreatedAt))
	return mapErr(err)
}

// ListTeams returns the tenant's live teams ordered by name (byte-wise on both
// backends). Every lookup here sees live teams only.
func (ts teamStore) ListTeams(ctx context.Context) ([]store.Team, error) {
	s := ts.s
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+teamColumns+` FROM teams WHERE tenant_id = ?`+liveTeam+` ORDER BY name, id`), ts.tenantID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

func (ts teamStore) TeamByID(ctx context.Context, id string) (store.Team, error) {
	s := ts.s
	return scanTeam(s.db.QueryRowContext(ctx, s.q(`SELECT `+teamColumns+` FROM teams WHERE tenant_id = ? AND id = ?`+liveTeam), ts.tenantID, id))
}

// TeamByName finds the team through its lower-cased name.
func (ts teamStore) TeamByName(ctx context.Context, name string) (store.Team, error) {
	s := ts.s
	return scanTeam(s.db.QueryRowContext(ctx, s.q(`SELECT `+teamColumns+` FROM teams WHERE tenant_id = ? AND name_key = ?`+liveTeam),
		ts.tenantID, teamNameKey(name)))
}

// DeleteTeam marks the team deleted at at, records who is in it (deleted users
// included) in deleted_members, and then, in the same transaction, takes its id out
// of their teams, so that the team grants nothing from the commit on. On PostgreSQL
// the team's row is locked FOR UPDATE first (an UPDATE alone would take a NO KEY
// UPDATE lock, which does not conflict with KEY SHARE): that waits for the KEY SHARE
// lock an AddTeamMember of this team holds until it commits, and the users are read
// after that (READ COMMITTED: a fresh snapshot) and locked FOR UPDATE, so no member
// added concurrently is missed and no concurrent change to a member's teams is lost;
// an AddTeamMember that comes later finds no live team. On SQLite BEGIN IMMEDIATE
// serialises the transaction against every other writer. A deleted or unknown team
// is ErrNotFound.
func (ts teamStore) DeleteTeam(ctx context.Context, id string, at time.Time) error {
	deleted, err := requiredTime("deletion time", at)
	if err != nil {
		return err
	}
	s := ts.s
	lock := `SELECT 1 FROM teams WHERE tenant_id = ? AND id = ?` + liveTeam
	if s.dialect == postgresDialect {
		lock += ` FOR UPDATE`
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(lock), ts.tenantID, id).Scan(&one); err != nil {
			return err // no such live team: ErrNotFound
		}
		members, err := s.usersWith(ctx, tx, ts.tenantID, "teams", id, false, true)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(members))
		for _, m := range members {
			ids = append(ids, m.id)
			rest := slices.DeleteFunc(m.list, func(t string) bool { return t == id })
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET teams = ? WHERE tenant_id = ? AND id = ?`),
				listArg(rest), ts.tenantID, m.id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE teams SET deleted_at = ?, deleted_members = ? WHERE tenant_id = ? AND id = ?`),
			deleted, listArg(ids), ts.tenantID, id)
		return err
	})
}

// AddTeamMember appends the team's id to the user's teams unless it is there. The team
// must exist: on PostgreSQL its row is locked FOR KEY SHARE, so a concurrent
// DeleteTeam either finishes first (the team is then unknown) or waits and then
// removes the new membership.
func (ts teamStore) AddTeamMember(ctx context.Context, teamID, userID string) error {
	s := ts.s
	lock := `SELECT 1 FROM teams WHERE tenant_id = ? AND id = ?` + liveTeam
	if s.dialect == postgresDialect {
		lock += ` FOR KEY SHARE`
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(lock), ts.tenantID, teamID).Scan(&one); err != nil {
			return err // no such team: ErrNotFound
		}
		return ts.editTeams(ctx, tx, userID, func(teams []string) ([]string, bool) {
			if slices.Contains(teams, teamID) {
				return nil, false
			}
			return append(teams, teamID), true
		})
	})
}

// RemoveTeamMember takes the team's id out of the user's teams; the team need not
// exist (a stale id is removed all the same).
func (ts teamStore) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	return ts.s.inTx(ctx, func(tx *sql.Tx) error {
		return ts.editTeams(ctx, tx, userID, func(teams []string) ([]string, bool) {
			if !slices.Contains(teams, teamID) {
				return nil, false
			}
			return slices.DeleteFunc(teams, func(t string) bool { return t == teamID }), true
		})
	})
}

// editTeams is a read-modify-write of the user's teams in tx that loses no concurrent
// change: on PostgreSQL the read locks the row FOR UPDATE, so the next writer reads
// only after this one committed; on SQLite the transaction holds the write lock from
// BEGIN IMMEDIATE. edit returns the new list and whether it differs (if not, nothing
// is written). An unknown user is ErrNotFound.
func (ts teamStore) editTeams(ctx context.Context, tx *sql.Tx, userID string, edit func([]string) ([]string, bool)) error {
	s := ts.s
	read := `SELECT teams FROM users WHERE tenant_id = ? AND id = ?` + liveUser
	if s.dialect == postgresDialect {
		read += ` FOR UPDATE`
	}
	var text string
	if err := tx.QueryRowContext(ctx, s.q(read), ts.tenantID, userID).Scan(&text); err != nil {
		return err // no such user: ErrNotFound
	}
	teams, err := listOf("users.teams", text)
	if err != nil {
		return err
	}
	next, changed := edit(teams)
	if !changed {
		return nil
	}
	_, err = tx.ExecContext(ctx, s.q(`UPDATE users SET teams = ? WHERE tenant_id = ? AND id = ?`), listArg(next), ts.tenantID, userID)
	return err
}

// TeamMembers returns, ordered by id, the users who are not deleted and have the team
// (none for an unknown team).
func (ts teamStore) TeamMembers(ctx context.Context, teamID string) ([]string, error) {
	s := ts.s
	members, err := s.usersWith(ctx, s.db, ts.tenantID, "teams", teamID, true, false)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range members {
		out = append(out, m.id)
	}
	return out, nil
}

func scanTeam(sc scanner) (store.Team, error) {
	var t store.Team
	var created, deleted sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &created, &deleted); err != nil {
		return store.Team{}, mapErr(err)
	}
	t.CreatedAt, t.DeletedAt = timeOf(created), timeOf(deleted)
	return t, nil
}

// Interface guards
var _ store.TeamStore = teamStore{}
