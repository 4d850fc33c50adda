package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// traffic is closed-loop load: workers repeat a step until halted and tally every
// answer under a label; a step that sees an answer break a rule says so, and the
// test fails with the first of those complaints.
type traffic struct {
	t      *testing.T
	halted atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	tally  map[string]int
	broken []string
}

func newTraffic(t *testing.T) *traffic {
	tr := &traffic{t: t, tally: map[string]int{}}
	t.Cleanup(tr.halt)
	return tr
}

// run starts n workers; step gets the worker and the iteration number and returns the
// label to count and a complaint ("" when the answer is as it must be).
func (tr *traffic) run(n int, step func(w, i int) (label, complaint string)) {
	for w := range n {
		tr.wg.Go(func() {
			for i := 0; !tr.halted.Load(); i++ {
				label, complaint := step(w, i)
				tr.mu.Lock()
				tr.tally[label]++
				if complaint != "" && len(tr.broken) < 1000 {
					tr.broken = append(tr.broken, complaint)
				}
				tr.mu.Unlock()
			}
		})
	}
}

// halt stops the workers and waits for them.
func (tr *traffic) halt() {
	tr.halted.Store(true)
	tr.wg.Wait()
}

func (tr *traffic) count(label string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.tally[label]
}

// check fails the test with the complaints so far, if any.
func (tr *traffic) check(what string) {
	tr.t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.broken); n > 0 {
		tr.t.Errorf("%s: %d answers broke a rule, the first: %s", what, n, strings.Join(tr.broken[:min(n, 8)], "; "))
	}
}

func (tr *traffic) summary() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return fmt.Sprint(tr.tally)
}

// loadClient keeps connections alive and does not follow redirects; requests carry
// their cookie themselves, so one client serves every simulated user.
func loadClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 20 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// hit is one answer (or transport error) with when the request was sent and answered.
type hit struct {
	status     int
	body       string
	header     http.Header
	cookie     string // the session cookie the answer set ("name=value")
	err        error
	start, end time.Time
}

func (h hit) String() string {
	if h.err != nil {
		return "error " + h.err.Error()
	}
	return fmt.Sprintf("%d %.80q", h.status, h.body)
}

// send makes one request; hdr are header name/value pairs (a "Cookie" among them).
func send(c *http.Client, method, url, body string, hdr ...string) hit {
	h := hit{start: time.Now()}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		h.err = err
		return h
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		h.err, h.end = err, time.Now()
		return h
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h.status, h.body, h.header, h.end = resp.StatusCode, string(b), resp.Header, time.Now()
	for _, ck := range resp.Cookies() {
		if ck.Name == "gatehouse" && ck.Value != "" {
			h.cookie = "gatehouse=" + ck.Value
		}
	}
	return h
}

// login posts a password sign-in to the JSON API, from xff when not empty (the
// gateway must trust the loopback proxy for that to count).
func login(c *http.Client, base, email, password, xff string) hit {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	hdr := []string{"Content-Type", "application/json", "Accept", "application/json"}
	if xff != "" {
		hdr = append(hdr, "X-Forwarded-For", xff)
	}
	return send(c, "POST", base+"/auth/api/v1/login", string(b), hdr...)
}

// signedIn signs in (once) and returns the session cookie.
func signedIn(t *testing.T, c *http.Client, base, email, password string) string {
	t.Helper()
	h := login(c, base, email, password, "")
	if h.status != http.StatusOK || h.cookie == "" {
		t.Fatalf("sign-in of %s on %s: %v", email, base, h)
	}
	return h.cookie
}

// identityUpstream answers 201 to POST and 200 otherwise, with the e-mail the gateway
// vouched for in the body; a request outside /public/ that arrives without an identity
// is a door the gateway opened, and is counted.
type identityUpstream struct {
	*httptest.Server
	anonymous atomic.Int64
}

func newIdentityUpstream(t *testing.T) *identityUpstream {
	u := &identityUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := r.Header.Get("X-Gatehouse-User-Email")
		if email == "" && !strings.HasPrefix(r.URL.Path, "/public/") {
			u.anonymous.Add(1)
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprintf(w, "as %s\n", email)
	}))
	t.Cleanup(u.Close)
	return u
}

// everyLine matches every sample of the Prometheus text format.
var everyLine = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)

// metrics reads every series from Caddy's /metrics (Go runtime and process included).
func metrics(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := map[string]float64{}
	for _, m := range everyLine.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = v
	}
	return out
}

const mib = 1 << 20

// sessionsWork checks that every cookie still opens a protected route on base as the
// user (the sessions exist in the store the gateway reads).
func sessionsWork(t *testing.T, c *http.Client, base, email string, cookies []string, what string) {
	t.Helper()
	for i, ck := range cookies {
		h := send(c, "GET", base+"/app/check", "", "Cookie", ck)
		if h.status != http.StatusOK || !strings.Contains(h.body, "as "+email) {
			t.Fatalf("%s: session %d of %d: %v", what, i+1, len(cookies), h)
		}
	}
}

// countActor counts the rows of a trail whose actor is email.
func countActor(rows []auditRow, email string) int {
	n := 0
	for _, r := range rows {
		if r["actor_email"] == email {
			n++
		}
	}
	return n
}

// targets is the set of a trail's record targets.
func targets(rows []auditRow) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		out[r["target"]] = true
	}
	return out
}

// acks collects what the gateway acknowledged, with when.
type acks struct {
	mu    sync.Mutex
	items []ack
}

type ack struct {
	what string // a cookie or a path
	at   time.Time
}

func (a *acks) add(what string, at time.Time) {
	a.mu.Lock()
	a.items = append(a.items, ack{what, at})
	a.mu.Unlock()
}

// before returns what was acknowledged before t (all with the zero time).
func (a *acks) before(t time.Time) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, it := range a.items {
		if t.IsZero() || it.at.Before(t) {
			out = append(out, it.what)
		}
	}
	return out
}
