package token

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// The per-request costs of tokens (SPEC §13): a bearer token the Verifier has seen
// costs a map lookup, a never-seen one an ECDSA verification; an assertion is signed
// once per session per AssertionReuse and reused in between.

// benchFixture is newFixture's key ring, verifier and clock with one signed-in
// session, for benchmarks (newFixture and signedIn take a *testing.T).
func benchFixture(b *testing.B) (*fixture, *session.Entry) {
	b.Helper()
	ctx := context.Background()
	st := testdb.Store(b)
	f := &fixture{st: st, ws: testdb.Workspace(b, st, "acme"), clk: clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
	var err error
	if f.cipher, err = secret.NewFieldCipher(bytes.Repeat([]byte{9}, 32)); err != nil {
		b.Fatal(err)
	}
	f.keys = f.ring("a")
	if err := f.keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	f.sessions = session.NewManager(st, f.clk, session.Options{})
	b.Cleanup(f.sessions.Close)
	f.verifier = &Verifier{Keys: f.keys, Clock: f.clk}
	u, err := authn.PrepareUser(authn.NewUser{Email: "ann@acme.test", DisplayName: "Ann Example", Roles: []string{"member"}},
		&identity.Hasher{Cost: 4}, identity.PasswordRules{}, f.clk)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.ws.Users().CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	tok, _, err := f.sessions.Create(ctx, f.ws, u, []string{"pwd", "otp"}, "192.0.2.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	e, err := f.sessions.Validate(ctx, f.ws, f.ws.Slug, tok)
	if err != nil {
		b.Fatal(err)
	}
	return f, e
}

// mintAccess signs n access tokens for the session at site, as the token endpoint
// does; each is distinct (its own jti).
func mintAccess(b *testing.B, f *fixture, e *session.Entry, n int) []string {
	b.Helper()
	out := make([]string, n)
	for i := range out {
		now := f.clk.Now()
		raw, err := f.keys.sign(claimsOf(&e.Facts, site.Origin(), site.Origin(), now, DefaultAccessTTL), TypeAccess, now)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// BenchmarkVerifyCacheHit: a client's every request after its first (SPEC §13: no
// JWT parsing per request).
func BenchmarkVerifyCacheHit(b *testing.B) {
	f, e := benchFixture(b)
	raw := mintAccess(b, f, e, 1)[0]
	tid := f.ws.TenantID()
	if _, err := f.verifier.Verify(raw, site, tid); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if sid, err := f.verifier.Verify(raw, site, tid); err != nil || sid != e.Session.ID {
			b.Fatal(sid, err)
		}
	}
}

// BenchmarkVerifyCacheMiss: every token never seen before — parse, ECDSA verify,
// claims, and caching it (with evictions once the default bound is reached). The
// tokens are minted before the timer starts.
func BenchmarkVerifyCacheMiss(b *testing.B) {
	f, e := benchFixture(b)
	toks := mintAccess(b, f, e, b.N)
	tid := f.ws.TenantID()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if sid, err := f.verifier.Verify(toks[i], site, tid); err != nil || sid != e.Session.ID {
			b.Fatal(sid, err)
		}
	}
	b.StopTimer()
	if n := f.verifier.Len(); n > DefaultCacheSize {
		b.Fatalf("the cache holds %d tokens, bound %d", n, DefaultCacheSize)
	}
}

// BenchmarkAssertionReuse: a signed-in request within AssertionReuse of its session's
// last assertion (the steady state: no signing on the request path).
func BenchmarkAssertionReuse(b *testing.B) {
	f, e := benchFixture(b)
	a := &Assertions{Keys: f.keys, Clock: f.clk}
	first, err := a.For(&e.Facts, site)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if tok, err := a.For(&e.Facts, site); err != nil || tok != first {
			b.Fatal("re-minted", err)
		}
	}
}

// BenchmarkAssertionMint: the request that finds its session's assertion due (once per
// session per AssertionReuse): the clock moves past the interval before each call.
func BenchmarkAssertionMint(b *testing.B) {
	f, e := benchFixture(b)
	a := &Assertions{Keys: f.keys, Clock: f.clk}
	last, err := a.For(&e.Facts, site)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f.clk.Advance(AssertionReuse)
		tok, err := a.For(&e.Facts, site)
		if err != nil || tok == last {
			b.Fatal("not minted", err)
		}
		last = tok
	}
}
