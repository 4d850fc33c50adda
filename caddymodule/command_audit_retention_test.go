package caddymodule

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// appFromCaddyfile adapts a Caddyfile and returns its gatehouse app with the
// defaults applied, as the gateway and the CLI read it.
func appFromCaddyfile(t *testing.T, caddyfile string) *App {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Apps struct {
			Gatehouse json.RawMessage `json:"gatehouse"`
		} `json:"apps"`
	}
	app := new(App)
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc.Apps.Gatehouse, app); err != nil {
		t.Fatal(err)
	}
	if err := app.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	app.logger = zap.NewNop()
	return app
}

// TestAuditVerifyAfterExpiry runs the audit_retention job the gateway starts (built
// from a Caddyfile, on a fake clock) and then the CLI on the expired trail: audit
// verify exits 0 from the signed cut, the export's chain status says so, a checkpoint
// exported before the expiry is reported as expired, not as a break, and records
// deleted behind the gateway's back afterwards still fail verification.
func TestAuditVerifyAfterExpiry(t *testing.T) {
	ctx := t.Context()
	app := appFromCaddyfile(t, "{\n\tgatehouse {\n\t\taudit_retention 30d\n\t}\n}\n")
	if time.Duration(app.AuditRetention) != 30*24*time.Hour {
		t.Fatalf("audit_retention 30d read as %v", time.Duration(app.AuditRetention))
	}
	dbPath := filepath.Join(t.TempDir(), "gh.db")
	st, err := sqlstore.Open(ctx, "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := testdb.Workspace(t, st, "acme")
	clk := clock.NewFake(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	w := audit.NewWriter(clk)
	write := func(n int) {
		for range n {
			if err := w.Record(ctx, ws, audit.Event(audit.ActionLoginSuccess, audit.Success, audit.Actor{Email: "a@example.com"}, audit.Origin{})); err != nil {
				t.Fatal(err)
			}
		}
	}
	fc, err := secret.NewFieldCipher(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := &audit.KeyStore{Store: st.AuditKeys(), Leases: st.Maintenance(), Cipher: fc, Holder: "test", Clock: clk}

	// An auditor keeps checkpoints of records 7 and 8.
	oldCheckpoint, cutCheckpoint := filepath.Join(t.TempDir(), "7.json"), filepath.Join(t.TempDir(), "8.json")
	var sink strings.Builder
	for _, c := range []struct {
		records int
		file    string
	}{{7, oldCheckpoint}, {1, cutCheckpoint}} {
		write(c.records)
		if err := runCheckpointExport(ctx, keys, ws, c.file, clk.Now(), &sink, &sink); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(40 * 24 * time.Hour)
	write(4) // records 9 to 12
	exp := app.auditExpirer(st, keys, w, "test", clk)
	if ran, n, err := exp.Once(ctx); err != nil || !ran || n != 8 {
		t.Fatalf("expiry: ran %v, removed %d, %v; want 8 removed", ran, n, err)
	}

	var out strings.Builder
	if err := runAuditVerify(ctx, &out, st.AuditKeys(), ws, nil); err != nil {
		t.Fatalf("audit verify after expiry: %v\n%s", err, out.String())
	}
	if want := "tenant acme: 5 records (9 to 13; records up to 8 expired under the cut signed "; !strings.HasPrefix(out.String(), want) ||
		!strings.Contains(out.String(), "chain intact (last hash ") {
		t.Fatalf("audit verify output %q, want it to start %q", out.String(), want)
	}

	var stdout, stderr strings.Builder
	svc := &admin.Service{Audit: w, AuditKeys: st.AuditKeys()}
	if err := runAuditExport(ctx, svc, ws, admin.AuditFilter{}, "csv", "", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "chain intact through record 13 from the expiry cut at record 8"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("export report %q lacks %q", stderr.String(), want)
	}
	// Without the audit keys the cut cannot be checked: never reported intact.
	stderr.Reset()
	if err := runAuditExport(ctx, &admin.Service{Audit: w}, ws, admin.AuditFilter{}, "csv", "", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "chain BROKEN at record 1 (removed)"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("export report without keys %q lacks %q", stderr.String(), want)
	}

	out.Reset()
	if err := runAuditVerifyFromCheckpoint(ctx, &out, st.AuditKeys(), ws, oldCheckpoint); err != nil {
		t.Fatalf("verify from a checkpoint of an expired record: %v\n%s", err, out.String())
	}
	if want := "record 7 of the checkpoint signed 2031-01-01T00:00:00Z has expired"; !strings.Contains(out.String(), want) {
		t.Fatalf("output %q lacks %q", out.String(), want)
	}
	out.Reset()
	if err := runAuditVerifyFromCheckpoint(ctx, &out, st.AuditKeys(), ws, cutCheckpoint); err != nil ||
		!strings.Contains(out.String(), "record 8 matches the checkpoint") || !strings.Contains(out.String(), "7 records, chain intact") { // 9 to 15: the two exports are records too
		t.Fatalf("verify from the checkpoint at the cut: %v\n%s", err, out.String())
	}

	// Records after the cut deleted behind the gateway's back (the trigger dropped).
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE tenant_id = ? AND seq IN (9, 10)`, ws.ID); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = runAuditVerify(ctx, &out, st.AuditKeys(), ws, nil)
	if !errors.Is(err, errChainBroken) || !strings.Contains(out.String(), "tenant acme: audit chain BROKEN at record 9: removed: records 9 to 10 are missing") {
		t.Fatalf("audit verify after a deletion beyond the cut: %v\n%s", err, out.String())
	}
}

// TestAuditOptions: the audit options round-trip through JSON (days accepted) and
// wrong values are refused naming the value.
func TestAuditOptions(t *testing.T) {
	var a App
	if err := json.Unmarshal([]byte(`{"audit_retention": "400d", "audit_checkpoint_every": 250, "audit_checkpoint_interval": "15m"}`), &a); err != nil {
		t.Fatal(err)
	}
	if err := a.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if time.Duration(a.AuditRetention) != 400*24*time.Hour || a.AuditCheckpointEvery != 250 || time.Duration(a.AuditCheckpointInterval) != 15*time.Minute {
		t.Fatalf("read %v, %d, %v", time.Duration(a.AuditRetention), a.AuditCheckpointEvery, time.Duration(a.AuditCheckpointInterval))
	}
	bad := App{AuditRetention: -1, AuditCheckpointEvery: -3, AuditCheckpointInterval: 1e9}
	err := bad.applyDefaults()
	for _, want := range []string{"audit_retention -1ns: 0 (keep forever) or at least 1h", "audit_checkpoint_every -3",
		"audit_checkpoint_interval 1s: at least 1m"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	var keep App
	if err := keep.applyDefaults(); err != nil || keep.AuditRetention != 0 {
		t.Fatalf("default retention: %v, %v; want 0 (keep forever)", time.Duration(keep.AuditRetention), err)
	}
}
