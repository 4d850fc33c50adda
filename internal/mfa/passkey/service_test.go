package passkey

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const testOrigin = "https://auth.example.com"

var (
	testSite = Site{Host: "auth.example.com", HTTPS: true}
	alice    = store.User{ID: "u-alice", TenantID: "t1", Email: "alice@example.com", DisplayName: "Alice"}
	bob      = store.User{ID: "u-bob", TenantID: "t1", Email: "bob@example.com", DisplayName: "Bob"}
)

type fixture struct {
	svc     *Service
	clock   *clock.Fake
	backend *fakeBackend
	tenant  *fakeTenant
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc, err := New(Config{RPDisplayName: "Example", Challenges: NewMemoryChallenges(clk), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBackend{}
	return &fixture{svc: svc, clock: clk, backend: b, tenant: b.tenant("t1")}
}

// register runs a whole registration of a for user and returns the stored passkey.
func (f *fixture) register(t *testing.T, user store.User, a *softAuthenticator) store.Passkey {
	t.Helper()
	ctx := context.Background()
	opts, ceremony, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, user)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, user, ceremony, "", a.create(t, opts, testOrigin, nil))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return p
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	t.Logf("refused as expected: %v", err)
}

func TestNewConfig(t *testing.T) {
	ch := NewMemoryChallenges(nil)
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Challenges: ch}, true},
		{"fixed", Config{Challenges: ch, RPID: "example.com", Origins: []string{"https://auth.example.com", "https://example.com:8443"}}, true},
		{"no challenge store", Config{}, false},
		{"origin outside RP ID", Config{Challenges: ch, RPID: "example.com", Origins: []string{"https://evil.com"}}, false},
		{"origin suffix trick", Config{Challenges: ch, RPID: "example.com", Origins: []string{"https://notexample.com"}}, false},
		{"origin with path", Config{Challenges: ch, Origins: []string{"https://example.com/x"}}, false},
		{"origin with user", Config{Challenges: ch, Origins: []string{"https://u@example.com"}}, false},
		{"origin scheme", Config{Challenges: ch, Origins: []string{"ftp://example.com"}}, false},
		{"bad RP ID", Config{Challenges: ch, RPID: "https://example.com"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: err = %v, want ok = %v", err, tc.ok)
			}
		})
	}
}

func TestRelyingPartyFromSite(t *testing.T) {
	svc, err := New(Config{Challenges: NewMemoryChallenges(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		site         Site
		rpID, origin string
		wantErr      bool
	}{
		{Site{Host: "auth.example.com", HTTPS: true}, "auth.example.com", "https://auth.example.com", false},
		{Site{Host: "Auth.Example.com:443", HTTPS: true}, "auth.example.com", "https://auth.example.com", false},
		{Site{Host: "auth.example.com:8443", HTTPS: true}, "auth.example.com", "https://auth.example.com:8443", false},
		{Site{Host: "localhost:8080"}, "localhost", "http://localhost:8080", false},
		{Site{Host: "localhost:80"}, "localhost", "http://localhost", false},
		{Site{Host: ""}, "", "", true},
		{Site{Host: "a.example.com/evil"}, "", "", true},
		{Site{Host: "u@a.example.com"}, "", "", true},
	} {
		rp, err := svc.relyingParty(tc.site)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%+v: no error", tc.site)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.site, err)
			continue
		}
		if rp.id != tc.rpID || len(rp.origins) != 1 || rp.origins[0] != tc.origin {
			t.Errorf("%+v: got %q %q, want %q %q", tc.site, rp.id, rp.origins, tc.rpID, tc.origin)
		}
	}
	// Cached per (RP ID, origin).
	a, _ := svc.relyingParty(Site{Host: "auth.example.com", HTTPS: true})
	b, _ := svc.relyingParty(Site{Host: "auth.example.com:443", HTTPS: true})
	if a.wa != b.wa {
		t.Error("relying party not cached")
	}

	fixed, err := New(Config{Challenges: NewMemoryChallenges(nil), RPID: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := fixed.relyingParty(Site{Host: "auth.example.com", HTTPS: true})
	if err != nil || rp.id != "example.com" || rp.origins[0] != "https://auth.example.com" {
		t.Errorf("fixed RP ID: %+v %v", rp, err)
	}
	if _, err := fixed.relyingParty(Site{Host: "example.org", HTTPS: true}); err == nil {
		t.Error("site outside the fixed RP ID accepted")
	}
}
