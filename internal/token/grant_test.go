package token

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// TestRefreshRotatesEveryUse: each refresh spends the token and gives a new one (and a
// new access token for the same session); the family ends with its session.
func TestRefreshRotatesEveryUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	e, g := f.issued(t, "ann@acme.test")
	if g.ExpiresIn != 15*time.Minute || !g.RefreshExpires.Equal(e.Session.ExpiresAt) || len(g.RefreshToken) < 43 {
		t.Fatalf("grant %+v", g)
	}
	seen := map[string]bool{g.RefreshToken: true}
	for i := range 3 {
		f.clk.Advance(14 * time.Minute)
		next, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, g.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if seen[next.RefreshToken] || next.AccessToken == g.AccessToken {
			t.Fatalf("refresh %d gave a token seen before", i)
		}
		seen[next.RefreshToken] = true
		got, err := f.sessionOf(next.AccessToken)
		if err != nil || got.Session.ID != e.Session.ID {
			t.Fatalf("the refreshed access token: %v", err)
		}
		g = next
	}
	// Only the newest token of the family is live: the session shows API access.
	if ids, err := f.ws.RefreshTokens().LiveRefreshSessions(ctx, e.User.ID, f.clk.Now()); err != nil || !slices.Equal(ids, []string{e.Session.ID}) {
		t.Fatalf("live refresh sessions %v %v", ids, err)
	}
	if got := f.audited(t); slices.Index(got, ActionIssued) < 0 || countOf(got, ActionRefreshed) != 3 {
		t.Fatalf("audited %v", got)
	}
	if f.events.count("issued") != 1 || f.events.count("refreshed") != 3 {
		t.Fatalf("metrics %v", f.events.list)
	}
	// Signing out (the session revoked) ends the family: the next refresh is refused.
	if err := f.sessions.Revoke(ctx, f.ws, e.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, g.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("a refresh after sign-out: %v", err)
	}
	if ids, _ := f.ws.RefreshTokens().LiveRefreshSessions(ctx, e.User.ID, f.clk.Now()); len(ids) != 0 {
		t.Fatalf("the ended session still has API access: %v", ids)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestReusedRefreshTokenEndsFamilyAndSession: a spent refresh token presented after the
// grace window is taken for a theft — the whole family (the thief's and the owner's
// newer tokens alike) and the session are revoked, audited and counted.
func TestReusedRefreshTokenEndsFamilyAndSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	e, first := f.issued(t, "ann@acme.test")
	second, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(DefaultRefreshGrace + time.Second)
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, first.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("the spent token again: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, second.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("the owner's newer token after the theft: %v", err)
	}
	if _, err := f.sessions.ValidateID(ctx, f.ws, f.ws.Slug, e.Session.ID); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("the session outlived the theft: %v", err)
	}
	if _, err := f.sessionOf(second.AccessToken); err == nil {
		t.Fatal("an access token of the session still gets in")
	}
	if got := f.audited(t); countOf(got, ActionReuse) != 1 || f.events.count("reuse_detected") != 1 {
		t.Fatalf("audited %v, metrics %v", got, f.events.list)
	}
	// Unknown tokens are simply refused.
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, secret.NewToken()); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("an unknown refresh token: %v", err)
	}
}

// TestParallelRefreshesShareTheSuccessor: requests presenting the same token at once
// (two tabs of an app) all get the same successor; none counts as a theft.
func TestParallelRefreshesShareTheSuccessor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, g := f.issued(t, "ann@acme.test")
	const n = 8
	var wg sync.WaitGroup
	got := make([]Grant, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = f.svc.Refresh(ctx, f.ws, Client{Site: site}, g.RefreshToken)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].RefreshToken != got[0].RefreshToken {
			t.Fatalf("parallel refresh %d: %v (successor %q, first %q)", i, errs[i], got[i].RefreshToken, got[0].RefreshToken)
		}
	}
	// A late one within the grace window too; the successor works.
	f.clk.Advance(DefaultRefreshGrace - time.Second)
	late, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, g.RefreshToken)
	if err != nil || late.RefreshToken != got[0].RefreshToken {
		t.Fatalf("within the grace window: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, late.RefreshToken); err != nil {
		t.Fatalf("the shared successor: %v", err)
	}
	if countOf(f.audited(t), ActionReuse) != 0 {
		t.Fatal("parallel refreshes taken for a theft")
	}
}

// TestRefreshOutlivesNoSession: a family ends when its session does (expiry), and the
// revoke call ends family and session together.
func TestRefreshEndsWithItsSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	e, g := f.issued(t, "ann@acme.test")
	if err := f.svc.Revoke(ctx, f.ws, Client{Site: site}, g.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, g.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("a revoked family: %v", err)
	}
	if _, err := f.sessions.ValidateID(ctx, f.ws, f.ws.Slug, e.Session.ID); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("the session after revoking its token: %v", err)
	}
	// A new session, and time runs out: past the session's end the family is refused.
	e2 := f.signedIn(t, "bo@acme.test")
	g2, err := f.svc.Issue(ctx, f.ws, Client{Site: site}, e2)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(e2.Session.ExpiresAt.Sub(f.clk.Now()) + time.Second)
	if _, err := f.svc.Refresh(ctx, f.ws, Client{Site: site}, g2.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("after the session's end: %v", err)
	}
	// Revoking an unknown token changes nothing and says nothing.
	if err := f.svc.Revoke(ctx, f.ws, Client{Site: site}, secret.NewToken()); err != nil {
		t.Fatal(err)
	}
}

// TestAssertionsAreMintedOncePerInterval: the same session on the same site gets the
// same assertion for AssertionReuse, a new one after, and at once when its facts change;
// each names the site's origin as audience and issuer and is not a bearer credential.
func TestAssertionsAreMintedOncePerInterval(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.signedIn(t, "ann@acme.test")
	a := &Assertions{Keys: f.keys, Clock: f.clk}
	first, err := a.For(&e.Facts, site)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(AssertionReuse - time.Second)
	if again, _ := a.For(&e.Facts, site); again != first {
		t.Fatal("re-minted within the reuse interval")
	}
	if other, _ := a.For(&e.Facts, Site{HTTPS: true, Host: "other.example.com"}); other == first {
		t.Fatal("another site got this site's assertion")
	}
	changed := e.Facts
	changed.Roles = []string{"admin"}
	if c, _ := a.For(&changed, site); c == first {
		t.Fatal("new roles, same assertion")
	}
	f.clk.Advance(2 * time.Second)
	fresh, _ := a.For(&e.Facts, site)
	if fresh == first {
		t.Fatal("not re-minted after the reuse interval")
	}
	c, err := f.keys.parse(fresh, TypeAssertion, f.clk.Now())
	if err != nil || c.Issuer != site.Origin() || len(c.Audience) != 1 || c.Audience[0] != site.Origin() ||
		c.ExpiresAt.Sub(c.IssuedAt.Time) != AssertionTTL || c.SessionID != e.Session.ID || c.Subject != e.User.ID {
		t.Fatalf("assertion claims %+v %v", c, err)
	}
	if _, err := f.verifier.Verify(fresh, site, f.ws.TenantID()); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("an assertion accepted as a bearer token")
	}
}
