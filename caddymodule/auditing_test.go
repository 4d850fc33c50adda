package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GB": 1e9, "1048576": 1 << 20, "1.5 GiB": 3 << 29, "64kb": 64000} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1MiB", "12 parsecs", "0"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

// auditBench is a site's auditing with a real committer on SQLite.
// The queue is large enough for the whole run: the benchmark measures the hand-over
// (BenchmarkAuditAppendBatch in sqlstore measures what the store takes per second).
func auditBench(tb testing.TB) (*auditing, gateway.Decision) {
	st := testdb.Store(tb)
	ws := testdb.Workspace(tb, st, "acme")
	sp, err := audit.OpenSpool(filepath.Join(tb.TempDir(), "audit.spool"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	c := &audit.Committer{Trails: st, Spool: sp, QueueSize: 1 << 21}
	c.Start()
	tb.Cleanup(func() { c.Stop(context.Background()); sp.Close() })
	p, err := policy.Compile([]policy.Rule{{Path: "/api/*", Access: policy.SignedIn}}, policy.SignedIn)
	if err != nil {
		tb.Fatal(err)
	}
	return &auditing{policy: p, commit: c, log: zap.NewNop()}, gateway.Decision{Outcome: gateway.Allow, Rule: 0, Workspace: ws}
}

type created struct{}

func (created) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusCreated)
	return nil
}

// BenchmarkAuditedWrite is the cost the audit adds to a proxied write on the request
// path: recording the status and handing the record to the group commit (no store
// write). BenchmarkUnauditedRead is a read on the same route (nothing recorded).
func BenchmarkAuditedWrite(b *testing.B) {
	au, d := auditBench(b)
	r := httptest.NewRequest("POST", "/api/deals", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if err := au.proxy(w, r, d, nil, created{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnauditedRead(b *testing.B) {
	au, d := auditBench(b)
	r := httptest.NewRequest("GET", "/api/deals", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if err := au.proxy(w, r, d, nil, created{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

var _ caddyhttp.Handler = created{}

func TestSpoolPath(t *testing.T) {
	for _, c := range []struct {
		app  App
		want string
	}{
		{App{AuditSpool: "/var/spool/gh.spool", Store: "sqlite://data/gh.db"}, "/var/spool/gh.spool"},
		{App{Store: "sqlite://data/gatehouse.db"}, "data/audit.spool"},
		{App{Store: "sqlite:///data/gatehouse.db?_busy=1"}, "/data/audit.spool"},
	} {
		if got := c.app.spoolPath(); got != c.want {
			t.Errorf("spoolPath of %+v = %q, want %q", c.app, got, c.want)
		}
	}
	for _, st := range []string{"postgres://db/gh", "sqlite::memory:", "sqlite://:memory:"} {
		if got := (&App{Store: st}).spoolPath(); !strings.HasSuffix(got, filepath.Join("gatehouse", "audit.spool")) || strings.HasPrefix(got, "data") {
			t.Errorf("spoolPath with store %s = %q, want Caddy's data directory", st, got)
		}
	}
}
