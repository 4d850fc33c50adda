package caddymodule

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func TestPermissionReviewArgs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]PermissionReview{
		"permission_review 30d":                  {Every: caddy.Duration(30 * 24 * time.Hour)},
		"permission_review off":                  {Off: true},
		"permission_review 90d skip acme globex": {Every: caddy.Duration(90 * 24 * time.Hour), Skip: []string{"acme", "globex"}},
	} {
		d := caddyfile.NewTestDispenser(in)
		d.Next()
		got, err := permissionReviewArgs(d)
		if err != nil || got.Every != want.Every || got.Off != want.Off || !slices.Equal(got.Skip, want.Skip) {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for in, want := range map[string]string{
		"permission_review":          "needs a period",
		"permission_review 1h":       "at least 24h",
		"permission_review soon":     `"soon": not a duration`,
		"permission_review 30d acme": "only skip",
		"permission_review 30d skip": "only skip",
	} {
		d := caddyfile.NewTestDispenser(in)
		d.Next()
		if _, err := permissionReviewArgs(d); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", in, err, want)
		}
	}
	if (*PermissionReview)(nil).period() != admin.DefaultReviewPeriod || (*PermissionReview)(nil).check() != nil {
		t.Error("no configuration is not the default")
	}
}

// TestReviewJobWiring: the job the app starts sends the review with a link to the
// portal of the tenant's site, skips the tenants the configuration names and those
// whose owners turned the mail off, and is not built when the mail is off.
func TestReviewJobWiring(t *testing.T) {
	t.Parallel()
	st := testdb.Store(t)
	clk := clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc := &admin.Service{MFA: &authn.MFA{Clock: clk}, Audit: audit.NewWriter(clk), Hasher: &identity.Hasher{Cost: 4},
		Rules: identity.PasswordRules{MinLength: 15}, Clock: clk}
	a := &App{BaseURL: "https://gw.example", logger: zap.NewNop(), sites: new(siteList), svc: &services{admin: svc}}
	a.serveTenant("acme", "/login-area")
	acme, globex := testdb.Workspace(t, st, "acme"), testdb.Workspace(t, st, "globex")
	for _, ws := range []store.Workspace{acme, globex} {
		if _, err := svc.AddUser(t.Context(), ws, admin.CLI(), authn.NewUser{Email: "owner@" + ws.Slug + ".test", Password: "an entirely adequate passphrase",
			Roles: []string{identity.RoleOwner}}); err != nil {
			t.Fatal(err)
		}
	}
	outbox := st.(*sqlstore.Store).Outbox()

	if a.reviewJob(&PermissionReview{Off: true}, st, outbox, nil, "h", clk) != nil {
		t.Fatal("a job for a review that is off")
	}
	j := a.reviewJob(&PermissionReview{Every: caddy.Duration(30 * 24 * time.Hour), Skip: []string{"globex"}}, st, outbox, nil, "h", clk)
	if j.Period != 30*24*time.Hour || j.Holder != "h" {
		t.Fatalf("job: %+v", j)
	}
	if n, err := j.Once(context.Background()); n != 1 || err != nil {
		t.Fatalf("round: %d %v", n, err)
	}
	ms, err := outbox.ClaimDue(t.Context(), clk.Now(), time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].To != "owner@acme.test" || !strings.Contains(ms[0].Text, "https://gw.example/login-area/admin/team/audit") {
		t.Fatalf("mailed %+v %v", ms, err)
	}
	if err := outbox.MarkSent(t.Context(), ms[0].ID, clk.Now()); err != nil {
		t.Fatal(err)
	}

	// A tenant whose owners turned the mail off on Workspace security gets none; the
	// others do.
	off := false
	if _, err := svc.UpdateSecurity(t.Context(), acme, admin.CLI(), admin.SecurityChange{PermissionReview: &off}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(365 * 24 * time.Hour) // a new period
	j = a.reviewJob(nil, st, outbox, nil, "h", clk)
	if j.Period != admin.DefaultReviewPeriod {
		t.Fatalf("default job: %+v", j)
	}
	if n, err := j.Once(context.Background()); n != 1 || err != nil {
		t.Fatalf("round with acme's mail off: %d %v", n, err)
	}
	ms, err = outbox.ClaimDue(t.Context(), clk.Now(), time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].To != "owner@globex.test" {
		t.Fatalf("mailed %+v %v", ms, err)
	}

	// Portal addresses: the site's prefix on base_url; a tenant found by host name at
	// its host; nothing without either.
	for _, tc := range []struct {
		base string
		t    store.Tenant
		want string
	}{
		{"https://gw.example", store.Tenant{Slug: "acme", Hosts: []string{"acme.example.com"}}, "https://gw.example/login-area"},
		{"https://gw.example", store.Tenant{Slug: "other"}, "https://gw.example/auth"},
		{"https://gw.example", store.Tenant{Slug: "other", Hosts: []string{"other.example.com"}}, "https://other.example.com/auth"},
		{"http://localhost:8080", store.Tenant{Slug: "other", Hosts: []string{"other.localhost"}}, "http://other.localhost/auth"},
		{"", store.Tenant{Slug: "other", Hosts: []string{"other.example.com"}}, "https://other.example.com/auth"},
		{"", store.Tenant{Slug: "acme"}, ""},
	} {
		a.BaseURL = tc.base
		if got := a.tenantPortalURL(tc.t); got != tc.want {
			t.Errorf("portal of %+v with base %q: %q, want %q", tc.t, tc.base, got, tc.want)
		}
	}
}
