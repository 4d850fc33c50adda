package caddymodule

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func TestAuditExportCommand(t *testing.T) {
	ctx := t.Context()
	st := testdb.Store(t)
	ws := testdb.Workspace(t, st, "acme")
	w := audit.NewWriter(clock.Real{})
	svc := &admin.Service{Audit: w}
	for i := range 6 {
		r := audit.Event(audit.ActionLoginSuccess, audit.Success, audit.Actor{Email: fmt.Sprintf("u%d@example.com", i)}, audit.Origin{IP: "192.0.2.7"})
		if i%2 == 1 {
			r.Action, r.Outcome, r.Target = audit.ActionLoginFailure, audit.Failure, "=HYPERLINK(\"x\")"
		}
		if err := w.Record(ctx, ws, r); err != nil {
			t.Fatal(err)
		}
	}

	// To a file, filtered: 0600, a header row, the failures newest first, defused.
	out := filepath.Join(t.TempDir(), "audit.csv")
	var stdout, stderr strings.Builder
	if err := runAuditExport(ctx, svc, ws, admin.AuditFilter{Outcome: "failure"}, "csv", out, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "tenant acme: exported 3 records to " + out + "; chain intact through record 6\n"; stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("stderr %q, want %q; stdout %q", stderr.String(), want, stdout.String())
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(out)
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(rows) != 4 || !slices.Equal(rows[0], admin.AuditColumns) {
		t.Fatalf("rows %q %v", rows, err)
	}
	for i, want := range []string{"6", "4", "2"} {
		if r := rows[i+1]; r[0] != want || r[5] != audit.Failure || r[6] != `'=HYPERLINK("x")` {
			t.Fatalf("row %d: %q", i+1, r)
		}
	}
	recs, _ := ws.Audit().ListAudit(ctx, 6, 10)
	if len(recs) != 1 || recs[0].Action != admin.ActionAuditExport || recs[0].ActorID != audit.CLI.UserID || recs[0].Details["rows"] != "3" ||
		recs[0].Details["filter"] != "outcome=failure" {
		t.Fatalf("export record: %+v", recs)
	}

	// To stdout, everything (the first export's record included).
	stdout.Reset()
	stderr.Reset()
	if err := runAuditExport(ctx, svc, ws, admin.AuditFilter{}, "csv", "", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	rows, err = csv.NewReader(strings.NewReader(stdout.String())).ReadAll()
	if err != nil || len(rows) != 8 || rows[1][4] != admin.ActionAuditExport || !strings.Contains(stderr.String(), "exported 7 records to standard output; chain intact through record 7") {
		t.Fatalf("stdout export: %d rows %v; %q", len(rows), err, stderr.String())
	}

	// A bad filter names its flag; nothing is written.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := runAuditExport(ctx, svc, ws, admin.AuditFilter{IP: "1.2.3"}, "csv", bad, io.Discard, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "--ip: ") {
		t.Fatalf("bad ip: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("a refused export left a file")
	}

	// A broken chain is reported (the export still completes).
	stderr.Reset()
	tws := store.Workspace{Tenant: ws.Tenant, TenantHandle: tamperedHandle{ws.TenantHandle, func(rs []store.AuditRecord) []store.AuditRecord {
		rs[2].ActorEmail = "someone@else.example"
		return rs
	}}}
	if err := runAuditExport(ctx, svc, tws, admin.AuditFilter{Action: "login."}, "csv", "", io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "exported 6 records to standard output; chain BROKEN at record 3 (altered)") ||
		!strings.Contains(stderr.String(), "records 1 to 2 are intact") {
		t.Fatalf("broken chain: %q", stderr.String())
	}

	// --format pdf to a file: a PDF document, 0600.
	pdfOut := filepath.Join(t.TempDir(), "audit.pdf")
	stderr.Reset()
	if err := runAuditExport(ctx, svc, ws, admin.AuditFilter{Outcome: "failure"}, "pdf", pdfOut, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if pb, err := os.ReadFile(pdfOut); err != nil || !strings.HasPrefix(string(pb), "%PDF-") ||
		!strings.Contains(stderr.String(), "exported 3 records to "+pdfOut) {
		t.Fatalf("pdf: %v %q", err, stderr.String())
	}

	// --format pdf without -o, or an unknown format: refused before anything is opened.
	for format, want := range map[string]string{"pdf": "--format pdf needs -o", "xls": "must be csv or pdf"} {
		cmd := auditExportCmd()
		cmd.SetArgs([]string{"--config", "nonexistent.json", "--format", format})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--format %s: %v", format, err)
		}
	}
}
