package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Leaser hands out the named leases that let one instance of several do a job.
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
}

// MemberPurger is the background job that purges members (Deletions.Purge),
// teams and roles (Teams.PurgeDeleted, Roles.PurgeDeleted) deleted, and second
// factors (FactorRestores.Purge) removed, longer ago than the restore window, in
// every workspace. Several instances may
// run one each: a lease lets one purge at a time.
type MemberPurger struct {
	Store    store.Store
	Service  *Service // its Clock and Audit writer are used
	Leases   Leaser
	Holder   string        // this instance's name for the lease
	Interval time.Duration // how often it looks; default an hour
	Logger   *zap.Logger
}

// memberPurgeLease names the job's lease.
const memberPurgeLease = "member-purge"

func (p *MemberPurger) interval() time.Duration {
	if p.Interval <= 0 {
		return time.Hour
	}
	return p.Interval
}

// Once purges, when this instance gets the lease, every workspace's members, teams
// and roles deleted, and second factors removed, longer ago than the restore window;
// ran reports whether it had the lease, purged counts all four. A failure
// in one workspace does not stop the others.
func (p *MemberPurger) Once(ctx context.Context) (ran bool, purged int, err error) {
	ttl := p.interval() - p.interval()/10
	if ok, err := p.Leases.AcquireLease(ctx, memberPurgeLease, p.Holder, ttl, p.Service.Clock.Now()); err != nil || !ok {
		return false, 0, err
	}
	tenants, err := p.Store.Tenants().ListTenants(ctx)
	if err != nil {
		return true, 0, fmt.Errorf("listing tenants: %w", err)
	}
	var errs []error
	for _, tn := range tenants {
		ws := store.Workspace{Tenant: tn, TenantHandle: p.Store.Tenant(tn.ID)}
		n, err := p.Service.Deletions().Purge(ctx, ws)
		nt, teamErr := p.Service.Teams().PurgeDeleted(ctx, ws)
		nr, roleErr := p.Service.Roles().PurgeDeleted(ctx, ws)
		nf, factorErr := p.Service.FactorRestores().Purge(ctx, ws)
		purged += n + nt + nr + nf
		if err = errors.Join(err, teamErr, roleErr, factorErr); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tn.Slug, err))
		}
	}
	return true, purged, errors.Join(errs...)
}

// Run purges every Interval until ctx ends (failures are logged; the next round
// tries again).
func (p *MemberPurger) Run(ctx context.Context) {
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	t := time.NewTicker(p.interval())
	defer t.Stop()
	for {
		switch ran, n, err := p.Once(ctx); {
		case err != nil:
			log.Warn("purging deleted members, teams, roles and removed factors", zap.Error(err))
		case ran && n > 0:
			log.Info("purged deleted members, teams, roles and removed factors", zap.Int("purged", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
