package account

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestDownloadDataHoldsEverythingButSecrets: the download carries the member's
// profile, sessions, factors and audit records, never a hash or secret, and is kept
// as a fulfilled access request and audited.
func TestDownloadDataHoldsEverythingButSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	other := f.me(t, "bob@acme.test", false)
	k, err := f.svc.BeginTOTP(ctx, f.ws, me)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, f.ws, me, f.code(t, k.Secret)); err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.DownloadData(ctx, f.ws, me)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.ws.Users().UserByID(ctx, me.Session.User.ID)
	text := string(doc)
	for _, want := range []string{`"email":"ann@acme.test"`, `"totp":true`, `"action":"mfa.totp_enrolled"`, me.Session.Session.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("download lacks %s: %s", want, text)
		}
	}
	for _, secret := range []string{u.PasswordHash, k.Secret, "bob@acme.test", other.Session.Session.ID} {
		if strings.Contains(text, secret) {
			t.Errorf("download holds %q, which it must not", secret)
		}
	}
	if d.Factors.RecoveryCodes == 0 || len(d.Sessions) != 1 {
		t.Errorf("factors %+v, sessions %+v", d.Factors, d.Sessions)
	}
	rs, _ := f.svc.MyRequests(ctx, f.ws, me)
	if len(rs) != 1 || rs[0].Kind != store.RequestAccess || rs[0].Status != store.RequestFulfilled {
		t.Errorf("requests after a download: %+v", rs)
	}
	if acts := f.actions(t); acts[len(acts)-1] != audit.ActionDataDownloaded {
		t.Errorf("actions: %v", acts)
	}
	f.clk.Advance(time.Hour)
	if _, err := f.svc.DownloadData(ctx, f.ws, me); !errors.Is(err, authn.ErrReauthRequired) {
		t.Errorf("download from a stale session: %v", err)
	}
}

// TestRestrictEndsEverySessionAndSignIn: restricting ends the member's sessions at
// once and leaves an open restriction request; the data stays.
func TestRestrictEndsEverySessionAndSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.me(t, "bob@acme.test", false) // another member
	me := f.me(t, "ann@acme.test", false)
	r, err := f.svc.Restrict(ctx, f.ws, me)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != store.RequestRestriction || r.Status != store.RequestOpen || !r.Deadline.Equal(r.CreatedAt.Add(30*24*time.Hour)) {
		t.Errorf("request: %+v", r)
	}
	if _, err := f.sessions.Validate(ctx, f.ws, f.ws.Slug, me.Client.Token); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("session after restricting: %v", err)
	}
	u, err := f.ws.Users().UserByID(ctx, me.Session.User.ID)
	if err != nil || u.Status != store.UserRestricted || u.PasswordHash == "" {
		t.Errorf("account after restricting: %+v, %v", u, err)
	}
	acts := f.actions(t)
	if n := len(acts); n < 2 || acts[n-2] != audit.ActionPrivacyRequested || acts[n-1] != audit.ActionUserRestricted {
		t.Errorf("actions: %v", acts)
	}
}

// TestErasureRequestIsOpenOnce: asking for erasure opens one request with a 30-day
// deadline; asking again while it is open is ErrRequestPending. An objection to
// location profiling is kept as a fulfilled request.
func TestErasureRequestIsOpenOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	r, err := f.svc.RequestErasure(ctx, f.ws, me)
	if err != nil || r.Status != store.RequestOpen || r.Kind != store.RequestErasure || !r.Deadline.Equal(f.clk.Now().Add(30*24*time.Hour)) {
		t.Fatalf("RequestErasure: %+v, %v", r, err)
	}
	if _, err := f.svc.RequestErasure(ctx, f.ws, me); !errors.Is(err, ErrRequestPending) {
		t.Errorf("second erasure request: %v", err)
	}
	f.clk.Advance(time.Minute)
	if err := f.svc.SetLocationProfiling(ctx, f.ws, me, false); err != nil {
		t.Fatal(err)
	}
	rs, _ := f.svc.MyRequests(ctx, f.ws, me)
	if len(rs) != 2 || rs[0].Kind != store.RequestObjection || rs[0].Status != store.RequestFulfilled {
		t.Errorf("requests: %+v", rs)
	}
	if u, _ := f.ws.Users().UserByID(ctx, me.Session.User.ID); u.Status != store.UserActive {
		t.Errorf("asking for erasure changed the account: %+v", u)
	}
}
