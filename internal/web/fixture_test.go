package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	"github.com/gatehouse-dev/gatehouse/internal/token"
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
	keys      *token.KeyRing
	tokens    *token.Service
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
	digester, err := audit.NewDigester(bytes.Repeat([]byte{7}, 32)) // version-2 records, as the gateway writes
	if err != nil {
		t.Fatal(err)
	}
	audits := audit.NewWriter(clk).WithDigester(digester)
	f.signIn = &authn.SignIn{Passwords: f.passwords, MFA: f.mfa, Passkeys: pks, Sessions: f.sessions, Audit: audits,
		Hasher: f.hasher, Rules: f.rules, Clock: clk}
	f.account = &account.Service{MFA: f.mfa, Passwords: f.passwords, SignIn: f.signIn, Passkeys: pks, Sessions: f.sessions,
		Audit: audits, Rules: f.rules, Clock: clk}
	f.admin = &admin.Service{Lockout: f.passwords.Lockout, MFA: f.mfa, Audit: audits, Hasher: f.hasher, Rules: f.rules, Clock: clk,
		Sessions: f.sessions, Links: authn.Links{SignIn: f.signIn}}
	f.keys = &token.KeyRing{Store: st.SigningKeys(), Leases: st.Maintenance(), Cipher: cipher, Holder: "test", Clock: clk}
	if err := f.keys.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.tokens = &token.Service{Keys: f.keys, Sessions: f.sessions, Audit: audits, SuccessorKey: bytes.Repeat([]byte{8}, 32), Clock: clk}
	f.portal = &Portal{Prefix: "/auth", SignIn: f.signIn, Account: f.account, Admin: f.admin, Sessions: f.sessions,
		Rules: f.rules, Clock: clk, Tokens: f.tokens, Keys: f.keys}
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
	f.keys.Clock, f.tokens.Clock = clk, clk
	f.sessions = session.NewManager(f.st, clk, session.Options{})
	f.signIn.Sessions, f.account.Sessions, f.admin.Sessions, f.portal.Sessions = f.sessions, f.sessions, f.sessions, f.sessions
	f.tokens.Sessions = f.sessions
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

// mailbox is a Mailer that records what the use cases mail, for the tests that follow
// links (withMail installs one on sign-in, account and admin).
type mailbox struct {
	mu      sync.Mutex
	msgs    []mailed
	changed chan struct{} // closed (and replaced) on every message
}

type mailed struct {
	To, Kind string
	Data     any
}

func (m *mailbox) Notify(_ context.Context, _, to, kind string, data any) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, mailed{To: to, Kind: kind, Data: data})
	close(m.changed)
	m.changed = make(chan struct{})
	return "msg-" + strconv.Itoa(len(m.msgs)), nil
}

// of returns the messages of kind to (either "" for any) sent so far.
func (m *mailbox) of(kind, to string) []mailed {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mailed
	for _, x := range m.msgs {
		if (kind == "" || x.Kind == kind) && (to == "" || x.To == to) {
			out = append(out, x)
		}
	}
	return out
}

// wait returns the n-th (from 1) message of kind to, waiting for it: some mail is
// sent in the background, off the answer's path.
func (m *mailbox) wait(t *testing.T, kind, to string, n int) mailed {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		m.mu.Lock()
		ch := m.changed
		m.mu.Unlock()
		if got := m.of(kind, to); len(got) >= n {
			return got[n-1]
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %s mail #%d to %s: %+v", kind, n, to, m.of("", ""))
		}
	}
}

// withMail records the mail of every use case.
func (f *fixture) withMail() *mailbox {
	m := &mailbox{changed: make(chan struct{})}
	f.signIn.Mail, f.account.Mail, f.admin.Mail = m, m, m
	return m
}

// browser is a client (cookie jar, redirects not followed) that sends every request
// with userAgent from ip (as the gateway would resolve it).
func browser(t *testing.T, userAgent, ip string) *http.Client {
	c := noRedirect(t)
	c.Transport = headerTransport{"User-Agent": {userAgent}, "X-Test-Client-IP": {ip}}
	return c
}

type headerTransport http.Header

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		if r.Header.Get(k) == "" {
			r.Header[k] = v
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// send sends a request (a JSON body unless body is nil or url.Values, which is sent as
// a form) with extra headers and returns status, headers and the body.
func send(t *testing.T, c *http.Client, method, u string, body any, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		if k == "Host" { // the jar would look up the cookies of that host: send ours
			req.Host = v
			if c.Jar != nil {
				for _, ck := range c.Jar.Cookies(req.URL) {
					req.AddCookie(ck)
				}
			}
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// getJSON fetches an API answer.
func getJSON(t *testing.T, c *http.Client, u string) (int, map[string]any) {
	t.Helper()
	st, _, b := send(t, c, "GET", u, nil, nil)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return st, out
}

// csrfOf opens page and returns the CSRF token of its forms.
func csrfOf(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	st, body := getPage(t, c, page)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form on %s: %d\n%s", page, st, body)
	}
	return m[1]
}

// submit posts a browser form from page (its CSRF token added) to action and returns
// status, Location and body.
func submit(t *testing.T, c *http.Client, page, action string, v url.Values) (int, string, string) {
	t.Helper()
	v.Set("csrf", csrfOf(t, c, page))
	st, h, b := send(t, c, "POST", action, v, nil)
	return st, h.Get("Location"), string(b)
}

// live tells whether c's session still works.
func live(t *testing.T, c *http.Client, base string) bool {
	t.Helper()
	switch st := getStatus(t, c, base+"/auth/api/v1/me"); st {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	default:
		t.Fatalf("/me: %d", st)
		return false
	}
}

// audits returns the workspace's audit records of action.
func (f *fixture) audits(t *testing.T, action string) []store.AuditRecord {
	t.Helper()
	recs, err := f.handle.Audit().ListAudit(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditRecord
	for _, r := range recs {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}
