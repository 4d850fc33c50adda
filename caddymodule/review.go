package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// PermissionReview configures the permission review that every tenant's active owners
// get by e-mail once per period (SPEC §8): every member with roles, last sign-in and
// second factors, and a link to the review page. Each instance looks hourly; the store
// makes sure a period's review goes out once, whichever instance sends it.
type PermissionReview struct {
	// Every is the period. Default 90 days (a quarter); at least 24h.
	Every caddy.Duration `json:"every,omitempty"`
	// Off turns the mail off for every tenant (the review page stays). Default false.
	Off bool `json:"off,omitempty"`
	// Skip lists the slugs of tenants that get no review mail. Default none. (A
	// tenant's owners and admins can also turn it off on their Workspace security page.)
	Skip []string `json:"skip,omitempty"`
}

// period is the configured period or the default.
func (r *PermissionReview) period() time.Duration {
	if r == nil || r.Every == 0 {
		return admin.DefaultReviewPeriod
	}
	return time.Duration(r.Every)
}

// check refuses a period that would make the review a daily nuisance or worse (nil is
// the default and fine).
func (r *PermissionReview) check() error {
	if r == nil {
		return nil
	}
	if r.Every != 0 && time.Duration(r.Every) < 24*time.Hour {
		return fmt.Errorf("permission_review %v: the period is at least 24h (default 90d)", time.Duration(r.Every))
	}
	for _, s := range r.Skip {
		if s == "" {
			return errors.New("permission_review: an empty tenant slug to skip")
		}
	}
	return nil
}

// permissionReviewArgs reads `permission_review <period>|off [skip <tenant slug>...]`.
func permissionReviewArgs(d *caddyfile.Dispenser) (*PermissionReview, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Err("gatehouse: permission_review needs a period (e.g. 90d) or off")
	}
	r := new(PermissionReview)
	if args[0] == "off" {
		r.Off = true
	} else {
		dur, err := caddy.ParseDuration(args[0])
		if err != nil {
			return nil, d.Errf("gatehouse: permission_review %q: not a duration (e.g. 90d) nor off", args[0])
		}
		r.Every = caddy.Duration(dur)
	}
	switch rest := args[1:]; {
	case len(rest) == 0:
	case rest[0] != "skip" || len(rest) == 1:
		return nil, d.Errf("gatehouse: permission_review %s: after the period, only skip <tenant slug>...", strings.Join(args, " "))
	default:
		r.Skip = rest[1:]
	}
	if err := r.check(); err != nil {
		return nil, d.Errf("gatehouse: %v", err)
	}
	return r, nil
}

// reviewJob builds the periodic review mail for cfg (nil: the defaults); nil when
// the review mail is off. It skips the tenants cfg names and those whose owners turned
// the mail off (store.SecuritySettings.PermissionReviewOff).
func (a *App) reviewJob(cfg *PermissionReview, st store.Store, outbox notify.Outbox, kick func(), holder string, clk clock.Clock) *admin.ReviewJob {
	if cfg != nil && cfg.Off {
		return nil
	}
	j := &admin.ReviewJob{Store: st, Review: admin.Review{Service: a.svc.admin}, Outbox: outbox, Kick: kick, Templates: a.templates,
		Period: cfg.period(), Holder: holder, PortalURL: a.tenantPortalURL, Clock: clk, Logger: a.logger.Named("review")}
	var skip []string
	if cfg != nil {
		skip = slices.Clone(cfg.Skip)
	}
	j.Off = func(ctx context.Context, ws store.Workspace) (bool, error) {
		if slices.Contains(skip, ws.Slug) {
			return true, nil
		}
		set, err := ws.Settings().SecuritySettings(ctx) // the owners' switch on Workspace security
		return set.PermissionReviewOff, err
	}
	return j
}

// tenantPortalURL is a tenant's portal address for links in mail sent without a
// request: base_url with the prefix of the site that serves the tenant; for a tenant
// found by its host name (no site names it), its first host with base_url's scheme
// (https without one) and the default prefix; "" when neither is known.
func (a *App) tenantPortalURL(t store.Tenant) string {
	prefix, static := defaultPortalPrefix, false
	a.sites.mu.Lock()
	for _, s := range a.sites.sites {
		if s.slug == t.Slug {
			prefix, static = s.prefix, true
			break
		}
	}
	a.sites.mu.Unlock()
	if !static && len(t.Hosts) > 0 {
		scheme := "https"
		if strings.HasPrefix(a.BaseURL, "http://") {
			scheme = "http"
		}
		return scheme + "://" + t.Hosts[0] + prefix
	}
	if a.BaseURL == "" {
		return ""
	}
	return a.BaseURL + prefix
}
