package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// periodStore is one tenant's record of once-per-period jobs. Every statement binds
// tenant_id.
type periodStore handle

// MarkPeriodDone is one insert that does nothing on the taken key: of concurrent
// callers exactly one stores the row (PostgreSQL makes the others wait for its commit
// and then skip; SQLite runs writers one at a time), and only it sees a row changed.
// An unknown tenant is ErrNotFound (foreign key); a time is required.
func (ps periodStore) MarkPeriodDone(ctx context.Context, job, period string, at time.Time) (bool, error) {
	done, err := requiredTime("period completion time", at)
	if err != nil {
		return false, err
	}
	res, err := ps.s.exec(ctx, `INSERT INTO tenant_periods (tenant_id, job, period, done_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, job, period) DO NOTHING`, ps.tenantID, job, period, done)
	if err != nil {
		return false, err
	}
	one, err := affectedOne(res)
	return one, mapErr(err)
}

func (ps periodStore) PeriodDone(ctx context.Context, job, period string) (bool, error) {
	s := ps.s
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM tenant_periods WHERE tenant_id = ? AND job = ? AND period = ?`),
		ps.tenantID, job, period).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// Interface guards
var _ store.PeriodStore = periodStore{}
