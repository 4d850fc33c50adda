package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// auditRow is one record of `gatehouse audit export --format csv`.
type auditRow map[string]string

// exportTrail reads the default tenant's records with the given action prefix, oldest
// first, through the CLI (which verifies the chain on the way).
func exportTrail(t *testing.T, g *gateway, action string) []auditRow {
	t.Helper()
	out := filepath.Join(t.TempDir(), "trail.csv")
	if msg, err := g.cli("", "audit", "export", "--format", "csv", "--action", action, "-o", out); err != nil {
		t.Fatalf("audit export: %v\n%s", err, msg)
	} else if !strings.Contains(msg, "chain intact") {
		t.Fatalf("audit export says the chain is not intact:\n%s", msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var recs []auditRow
	for _, row := range rows[1:] {
		r := auditRow{}
		for i, h := range rows[0] {
			r[h] = row[i]
		}
		recs = append([]auditRow{r}, recs...) // the export is newest first
	}
	return recs
}

// detail returns a key of the record's details (a JSON object in the CSV).
func (r auditRow) detail(t *testing.T, key string) string {
	t.Helper()
	var d map[string]string
	if err := json.Unmarshal([]byte(r["details"]), &d); err != nil {
		t.Fatalf("details of record %s: %v (%q)", r["seq"], err, r["details"])
	}
	return d[key]
}

// statusUpstream answers 404 for paths ending in /missing, 201 for POST, else 200.
func statusUpstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

const auditSite = `
		rule /health public audit=off
		rule /public/* public
		rule /api/patients/* signed_in audit=GET
		rule /admin/* deny
		rule /api/* signed_in`

// TestAuditProxiedWrites: every proxied write is recorded with method, path, rule,
// upstream status, actor, session and request id; reads are not, unless the route
// says so; a route can switch recording off; a scanner's denials make one record
// with a count.
func TestAuditProxiedWrites(t *testing.T) {
	up := statusUpstream(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: auditSite})
	const pw = "passphrase for the audit writes test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "nurse@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c := browser(t)
	signInAs(t, c, g.url, "nurse@example.com", pw)
	send := func(c *http.Client, method, path string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, g.url+path, strings.NewReader(`{"x":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "audit-e2e/1")
		if st, body, _ := do(t, c, req); st != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, st, want, body)
		}
	}
	send(c, "POST", "/api/deals", 201)
	send(c, "PUT", "/api/deals/1?secret=hunter2", 200)
	send(c, "PATCH", "/api/deals/missing", 404)
	send(c, "DELETE", "/api/deals/1", 200)
	send(c, "GET", "/api/deals", 200)             // a read: not recorded
	send(c, "GET", "/api/patients/7", 200)        // recorded: audit=GET
	send(c, "POST", "/health", 201)               // audit=off
	send(browser(t), "POST", "/public/form", 201) // anonymous
	for range 30 {
		send(browser(t), "GET", "/admin/users", 403) // a scanner: one record
	}
	g.stop() // flushes the denials of this minute and drains the queue

	recs := exportTrail(t, g, "proxy.")
	type want struct{ method, path, status, outcome, actor string }
	wants := []want{
		{"POST", "/api/deals", "201", "success", "nurse@example.com"},
		{"PUT", "/api/deals/1", "200", "success", "nurse@example.com"},
		{"PATCH", "/api/deals/missing", "404", "failure", "nurse@example.com"},
		{"DELETE", "/api/deals/1", "200", "success", "nurse@example.com"},
		{"GET", "/api/patients/7", "200", "success", "nurse@example.com"},
		{"POST", "/public/form", "201", "success", ""},
	}
	if len(recs) != len(wants) {
		for _, r := range recs {
			t.Logf("record %s: %s %s", r["seq"], r.detail(t, "method"), r["target"])
		}
		t.Fatalf("%d proxy.request records, want %d", len(recs), len(wants))
	}
	for i, w := range wants {
		r := recs[i]
		got := want{r.detail(t, "method"), r["target"], r.detail(t, "status"), r["outcome"], r["actor_email"]}
		if got != w {
			t.Errorf("record %d: %+v, want %+v", i+1, got, w)
		}
		if r["action"] != "proxy.request" || r["request_id"] == "" || r["ip"] != "127.0.0.1" || r["user_agent"] != "audit-e2e/1" ||
			r.detail(t, "rule") == "" || r.detail(t, "duration_ms") == "" {
			t.Errorf("record %d lacks request facts: %v", i+1, r)
		}
		if w.actor != "" && r["session_id"] == "" {
			t.Errorf("record %d: no session id", i+1)
		}
		if strings.Contains(r["target"]+r["details"], "hunter2") {
			t.Errorf("record %d keeps the query string (it may carry secrets): %v", i+1, r)
		}
	}
	if got := recs[4].detail(t, "rule"); !strings.Contains(got, "rules[2]") {
		t.Errorf("the patients read names rule %q, want rules[2]", got)
	}

	denials := exportTrail(t, g, "policy.denied")
	if len(denials) != 1 {
		t.Fatalf("30 denied requests made %d policy.denied records, want 1", len(denials))
	}
	d := denials[0]
	if d.detail(t, "count") != "30" || d["outcome"] != "denied" || d["ip"] != "127.0.0.1" || d["target"] != "/admin/users" ||
		!strings.Contains(d.detail(t, "rule"), "rules[3]") {
		t.Errorf("denial record %v", d)
	}
	if out, err := g.cli("", "audit", "verify"); err != nil || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

// TestAuditSpoolThroughOutageAndCrash: with a real PostgreSQL that stops, proxied
// writes go on and their records wait in the spool; when the database returns they
// are stored, in order. Then the database stops again, and the gateway is killed
// (kill -9) after acknowledging more writes: on restart, nothing is lost and the
// order holds.
func TestAuditSpoolThroughOutageAndCrash(t *testing.T) {
	pg := testpg.Private(t)
	up := statusUpstream(t)
	spool := filepath.Join(t.TempDir(), "audit.spool")
	g := startGatewayWith(t, gatewayConfig{dsn: pg.DSN(), upstream: up.URL, site: "\n\t\trule /api/* signed_in",
		app: "session_cache_ttl 1m\n\t\taudit_spool " + spool})
	const pw = "passphrase for the audit spool test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "clerk@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c := browser(t)
	signInAs(t, c, g.url, "clerk@example.com", pw)
	post := func(path string) {
		t.Helper()
		req, _ := http.NewRequest("POST", g.url+path, strings.NewReader("{}"))
		if st, body, _ := do(t, c, req); st != http.StatusCreated {
			t.Fatalf("POST %s: %d %s\n%s", path, st, body, g.logs())
		}
	}
	spooled := func() int {
		b, _ := os.ReadFile(spool)
		return bytes.Count(b, []byte("\n"))
	}
	var want []string
	postAll := func(prefix string, n int) {
		for i := range n {
			p := fmt.Sprintf("/api/%s%d", prefix, i)
			post(p)
			want = append(want, p)
		}
	}
	postAll("before", 3)
	waitFor(t, "the first records to reach the store", func() bool { return spooled() == 0 && len(proxied(t, g)) == 3 })

	// 1. The database stops: writes go on, records wait in the spool.
	pg.Stop()
	postAll("outage", 5)
	waitFor(t, "5 records in the spool", func() bool { return spooled() == 5 })
	pg.Start()
	waitFor(t, "the spool to be replayed", func() bool { return spooled() == 0 })
	postAll("after", 2)

	// 2. The database stops again; the gateway acknowledges (spools) more writes and is
	// killed before it can replay them.
	waitFor(t, "every record so far in the store", func() bool { return spooled() == 0 && len(proxied(t, g)) == len(want) })
	pg.Stop()
	postAll("crash", 4)
	waitFor(t, "4 records in the spool", func() bool { return spooled() == 4 })
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = g.cmd.Wait()
	pg.Start()
	g.start()
	waitFor(t, "the spool to be replayed after the crash", func() bool { return spooled() == 0 })
	g.stop()

	var got []string
	for _, r := range proxied(t, g) {
		got = append(got, r["target"])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the trail holds\n  %v\nwant\n  %v", got, want)
	}
	if out, err := g.cli("", "audit", "verify"); err != nil || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

// proxied is the trail's proxy.request records, oldest first.
func proxied(t *testing.T, g *gateway) []auditRow { return exportTrail(t, g, "proxy.request") }
