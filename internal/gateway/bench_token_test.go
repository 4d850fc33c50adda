package gateway

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// BenchmarkDecideSignedInTokens is BenchmarkDecideSignedInAllowed (Decide, then Apply)
// with the token features: the session cookie with and without the signed assertion,
// and a bearer access token the verifier has already seen (a cache hit: no JWT
// parsing), with and without the assertion. The assertion is reused from its cache:
// no signing per request.
func BenchmarkDecideSignedInTokens(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	tn := f.tenants["a"]
	ws := store.Workspace{Tenant: tn, TenantHandle: f.st.Tenant(tn.ID)}
	cipher, err := secret.NewFieldCipher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.Real{}
	keys := &token.KeyRing{Store: f.st.SigningKeys(), Leases: f.st.Maintenance(), Cipher: cipher, Holder: "bench", Clock: clk}
	if err := keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	cookie := f.login(b, "a")
	e, err := f.sessions.Validate(ctx, ws.TenantHandle, ws.Slug, cookie)
	if err != nil {
		b.Fatal(err)
	}
	svc := &token.Service{Keys: keys, Sessions: f.sessions, Audit: audit.NewWriter(clk), SuccessorKey: bytes.Repeat([]byte{4}, 32), Clock: clk}
	g, err := svc.Issue(ctx, ws, token.Client{Site: token.Site{Host: "a.example.com"}}, e)
	if err != nil {
		b.Fatal(err)
	}
	verifier := &token.Verifier{Keys: keys, Clock: clk}
	assertions := &token.Assertions{Keys: keys, Clock: clk}

	for _, c := range []struct {
		name      string
		bearer    bool
		assertion bool
	}{
		{"cookie", false, false},
		{"cookie+assertion", false, true},
		{"bearer", true, false},
		{"bearer+assertion", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			gw := f.gateway(b, false)
			gw.RemoteHeaders = true
			gw.Bearer = verifier
			if c.assertion {
				gw.Assertions = assertions
				gw.Send = identity.DefaultSelection | identity.SendAssertion
			}
			var r *http.Request
			if c.bearer {
				r = request("GET", "/app/deals/42", "a.example.com", "", "User-Agent", "bench", "Accept", "application/json",
					"Authorization", "Bearer "+g.AccessToken)
			} else {
				r = request("GET", "/app/deals/42", "a.example.com", cookie, "User-Agent", "bench", "Accept", "text/html")
			}
			base := r.Header.Clone()
			once := func() {
				clear(r.Header)
				for k, v := range base {
					r.Header[k] = v
				}
				d := gw.Decide(r, false, "192.0.2.1")
				if d.Outcome != Allow {
					b.Fatal(d.Outcome)
				}
				if err := gw.Apply(r, d); err != nil {
					b.Fatal(err)
				}
			}
			once() // the token's verification and the assertion's signing happen here
			if r.Header.Get("X-Gatehouse-User-Id") == "" || (r.Header.Get(assertionHeader) != "") != c.assertion ||
				r.Header.Get("Authorization") != "" {
				b.Fatalf("upstream headers %v", r.Header)
			}
			b.ReportAllocs()
			for b.Loop() {
				once()
			}
		})
	}
}
