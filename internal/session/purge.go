package session

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Purger removes what nobody needs any more — sessions revoked or expired an hour ago
// (half-done sign-ins included), TOTP steps used ten minutes ago (long outside the
// replay window of ±1 step), one-time links used or expired an hour ago, refresh
// tokens an hour after their family expired or was revoked (spent ones stay until
// then: presenting one again reveals a theft) — from every tenant, on a schedule.
// Several instances may run one each: a lease in the store lets one purge at a time.
type Purger struct {
	Store    store.Maintenance
	Holder   string        // this instance's name for the lease
	Interval time.Duration // default 10 minutes
	Clock    clock.Clock
	Logger   *zap.Logger
}

// purgeLease names the lease. It lasts nine tenths of the interval: one purge per
// round across all instances, and free again before the next round.
const purgeLease = "purge"

// Keep times: how long finished records stay before they are purged.
const (
	keepEndedSessions = time.Hour
	keepUsedSteps     = 10 * time.Minute
	keepUsedTokens    = time.Hour
)

// Once purges when this instance gets the lease; ran reports whether it did.
func (p *Purger) Once(ctx context.Context) (ran bool, res store.PurgeResult, err error) {
	now := p.Clock.Now()
	ok, err := p.Store.AcquireLease(ctx, purgeLease, p.Holder, p.interval()-p.interval()/10, now)
	if err != nil || !ok {
		return false, store.PurgeResult{}, err
	}
	res, err = p.Store.Purge(ctx, store.PurgeBefore{Sessions: now.Add(-keepEndedSessions),
		TOTPSteps: now.Add(-keepUsedSteps), Tokens: now.Add(-keepUsedTokens), RefreshTokens: now.Add(-keepUsedTokens)})
	return true, res, err
}

func (p *Purger) interval() time.Duration {
	if p.Interval <= 0 {
		return 10 * time.Minute
	}
	return p.Interval
}

// Run purges every Interval until ctx ends (failures are logged; the next round
// tries again).
func (p *Purger) Run(ctx context.Context) {
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	t := time.NewTicker(p.interval())
	defer t.Stop()
	for {
		ran, res, err := p.Once(ctx)
		switch {
		case err != nil:
			log.Warn("purging ended sessions and used tokens", zap.Error(err))
		case ran && res != (store.PurgeResult{}):
			log.Info("purged ended sessions and used tokens", zap.Int64("sessions", res.Sessions),
				zap.Int64("totp_steps", res.TOTPSteps), zap.Int64("tokens", res.Tokens))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
