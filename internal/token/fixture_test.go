package token

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// fixture is the token services over a real SQLite store with a fake clock.
type fixture struct {
	st       store.Store
	ws       store.Workspace
	clk      *clock.Fake
	cipher   *secret.FieldCipher
	keys     *KeyRing
	sessions *session.Manager
	svc      *Service
	verifier *Verifier
	events   *events
}

// events records the Metrics the service reports.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) TokenEvent(ev string) { e.mu.Lock(); e.list = append(e.list, ev); e.mu.Unlock() }

func (e *events) count(ev string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return countOf(e.list, ev)
}

var site = Site{HTTPS: true, Host: "app.example.com"}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := newStoreFixture(t)
	if err := f.keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// newStoreFixture is the fixture before any instance made a key.
func newStoreFixture(t testing.TB) *fixture {
	t.Helper()
	st := testdb.Store(t)
	f := &fixture{st: st, ws: testdb.Workspace(t, st, "acme"), clk: clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)), events: new(events)}
	var err error
	if f.cipher, err = secret.NewFieldCipher(bytes.Repeat([]byte{9}, 32)); err != nil {
		t.Fatal(err)
	}
	f.keys = f.ring("a")
	f.sessions = session.NewManager(st, f.clk, session.Options{})
	t.Cleanup(f.sessions.Close)
	f.svc = &Service{Keys: f.keys, Sessions: f.sessions, Audit: audit.NewWriter(f.clk), Metrics: f.events,
		SuccessorKey: bytes.Repeat([]byte{4}, 32), Clock: f.clk}
	f.verifier = &Verifier{Keys: f.keys, Clock: f.clk}
	return f
}

// ring is another instance's key ring on the same store.
func (f *fixture) ring(holder string) *KeyRing {
	return &KeyRing{Store: f.st.SigningKeys(), Leases: f.st.Maintenance(), Cipher: f.cipher, Holder: holder, Clock: f.clk}
}

// signedIn creates a user with a full session and returns the session's entry.
func (f *fixture) signedIn(t testing.TB, email string) *session.Entry {
	t.Helper()
	ctx := context.Background()
	u, err := authn.PrepareUser(authn.NewUser{Email: email, Roles: []string{"member"}}, &identity.Hasher{Cost: 4}, identity.PasswordRules{}, f.clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ws.Users().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.sessions.Create(ctx, f.ws, u, []string{"pwd", "otp"}, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.sessions.Validate(ctx, f.ws, f.ws.Slug, tok)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sessionOf verifies an access token at site for the fixture's tenant and validates
// its session, as the gateway does.
func (f *fixture) sessionOf(raw string) (*session.Entry, error) {
	sid, err := f.verifier.Verify(raw, site, f.ws.TenantID())
	if err != nil {
		return nil, err
	}
	return f.sessions.ValidateID(context.Background(), f.ws, f.ws.Slug, sid)
}

func (f *fixture) audited(t *testing.T) []string {
	t.Helper()
	recs, err := f.ws.Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

// jwksKids lists the kids of the published key set.
func jwksKids(t *testing.T, k *KeyRing) []string {
	t.Helper()
	var set struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.Unmarshal(k.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range set.Keys {
		if j.Kty != "EC" || j.Crv != "P-256" || j.Alg != "ES256" || j.Use != "sig" || len(j.X) != 43 || len(j.Y) != 43 {
			t.Fatalf("JWK %+v", j)
		}
		out = append(out, j.Kid)
	}
	return out
}

// issued signs email in and issues the session's first tokens, for a browser client of
// the test site.
func (f *fixture) issued(t testing.TB, email string) (*session.Entry, Grant) {
	t.Helper()
	e := f.signedIn(t, email)
	g, err := f.svc.Issue(context.Background(), f.ws, Client{Site: site}, e)
	if err != nil {
		t.Fatal(err)
	}
	return e, g
}
