package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/account"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// fixture is the portal wired to the real use cases over a real SQLite store, served
// by httptest; requests stand in for what the gateway resolves (tenant, client IP).
type fixture struct {
	srv       *httptest.Server
	portal    *Portal
	ws        store.Workspace
	handle    store.TenantHandle
	st        store.Store
	hasher    *identity.Hasher
	rules     identity.PasswordRules
	sessions  *session.Manager
	passwords *authn.Passwords
	mfa       *authn.MFA
	signIn    *authn.SignIn
	admin     *admin.Service
	account   *account.Service
}

func newFixture(t *testing.T, cost int) *fixture {
	t.Helper()
	st := testdb.Store(t)
	ws := testdb.Workspace(t, st, "acme")
	cipher, err := secret.NewFieldCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pks, err := passkey.New(passkey.Config{Challenges: passkey.NewMemoryChallenges(clock.Real{}), Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.Real{}
	f := &fixture{st: st, ws: ws, handle: ws.TenantHandle,
		hasher: &identity.Hasher{Cost: cost}, rules: identity.PasswordRules{MinLength: 15}}
	f.mfa = &authn.MFA{Cipher: cipher, Clock: clk}
	f.passwords = &authn.Passwords{Hasher: f.hasher, Clock: clk} // no lockout unless a test sets one (withLockout)
	f.sessions = session.NewManager(st, clk, session.Options{})
	audits := audit.NewWriter(clk)
	f.signIn = &authn.SignIn{Passwords: f.passwords, MFA: f.mfa, Passkeys: pks, Sessions: f.sessions, Audit: audits,
		Hasher: f.hasher, Rules: f.rules, Clock: clk}
	f.account = &account.Service{MFA: f.mfa, Passwords: f.passwords, SignIn: f.signIn, Passkeys: pks, Sessions: f.sessions,
		Audit: audits, Rules: f.rules, Clock: clk}
	f.admin = &admin.Service{Lockout: f.passwords.Lockout, MFA: f.mfa, Audit: audits, Hasher: f.hasher, Rules: f.rules, Clock: clk,
		Sessions: f.sessions, SignIn: f.signIn}
	f.portal = &Portal{Prefix: "/auth", SignIn: f.signIn, Account: f.account, Admin: f.admin, Sessions: f.sessions,
		Rules: f.rules, Clock: clk}
	f.portal.Init()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Host = strings.Replace(r.Host, "127.0.0.1", "localhost", 1) // WebAuthn needs a host name
		ip := "192.0.2.1"
		if v := r.Header.Get("X-Test-Client-IP"); v != "" { // stands in for Caddy's client_ip
			ip = v
		}
		f.portal.ServeHTTP(w, r.WithContext(WithRequest(r.Context(), Request{Workspace: f.ws, ClientIP: ip})))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// withLockout turns the lockout on (default policy, memory counters).
func (f *fixture) withLockout() *authn.Lockout {
	f.passwords.Lockout = &authn.Lockout{KV: kv.NewMemory(clock.Real{}, 1000), Policy: authn.DefaultLockout}
	f.admin.Lockout = f.passwords.Lockout
	return f.passwords.Lockout
}

// setClock puts every part of the fixture on clk (a fresh session manager too, so no
// session validated on the old clock stays cached).
func (f *fixture) setClock(clk clock.Clock) {
	f.mfa.Clock, f.passwords.Clock, f.signIn.Clock, f.admin.Clock, f.account.Clock, f.portal.Clock = clk, clk, clk, clk, clk, clk
	f.sessions = session.NewManager(f.st, clk, session.Options{})
	f.signIn.Sessions, f.account.Sessions, f.admin.Sessions, f.portal.Sessions = f.sessions, f.sessions, f.sessions, f.sessions
}

func (f *fixture) addUser(t *testing.T, email, pw string) store.User {
	t.Helper()
	return f.addUserRole(t, email, pw, "member")
}

func (f *fixture) addUserRole(t *testing.T, email, pw, role string) store.User {
	t.Helper()
	u, err := f.admin.AddUser(t.Context(), f.ws, admin.CLI(), authn.NewUser{Email: email, Password: pw, Roles: []string{role}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func noRedirect(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func apiLogin(t *testing.T, c *http.Client, base, email, pw string) (int, string) {
	t.Helper()
	st, out := postJSON(t, c, base+"/auth/api/v1/login", map[string]string{"email": email, "password": pw})
	s, _ := out["status"].(string)
	e, _ := out["error"].(string)
	return st, s + e
}

func postJSON(t *testing.T, c *http.Client, u string, body any) (int, map[string]any) {
	t.Helper()
	return sendJSON(t, c, "POST", u, body)
}

func sendJSON(t *testing.T, c *http.Client, method, u string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// getPage fetches a page and returns status and body.
func getPage(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io_Copy(&b, resp)
	return resp.StatusCode, b.String()
}
