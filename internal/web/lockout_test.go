package web

import (
	"context"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// TestTenantLockoutThroughAdminAPI: an owner sets the tenant's own lockout policy and
// sign-in follows it (here: the third failure locks).
func TestTenantLockoutThroughAdminAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.passwords.Lockout = &authn.Lockout{KV: kv.NewMemory(clock.Real{}, 1000), Policy: authn.DefaultLockout,
		TenantPolicy: func(ctx context.Context, _ string) (authn.LockoutPolicy, error) {
			s, err := f.handle.Settings().SecuritySettings(ctx)
			return authn.LockoutPolicy{Threshold: s.LockoutThreshold, Base: s.LockoutDuration, Max: s.LockoutMax}, err
		}}
	f.admin.Lockout = f.passwords.Lockout
	const pw = "a perfectly fine passphrase"
	f.addUserRole(t, "owner@example.com", pw, identity.RoleOwner)
	f.addUser(t, "member@example.com", pw)
	oc := noRedirect(t)
	apiLogin(t, oc, f.srv.URL, "owner@example.com", pw)
	st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/security", map[string]any{"lockout_threshold": 3, "lockout_duration_minutes": 5})
	if st != 200 || out["lockout_threshold"] != float64(3) || out["lockout_duration_minutes"] != float64(5) {
		t.Fatalf("setting the lockout policy: %d %v", st, out)
	}
	if st, _ := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/security", map[string]any{"lockout_threshold": -1}); st != http.StatusBadRequest {
		t.Fatalf("negative threshold accepted: %d", st)
	}
	for i := range 3 {
		if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", "wrong password "+string(rune('a'+i))); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", pw); st != http.StatusTooManyRequests {
		t.Fatalf("after the tenant's three failures: %d, want 429", st)
	}
}
