package caddymodule

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func TestAuditCheckpointExportAndVerify(t *testing.T) {
	ctx := t.Context()
	dbPath := filepath.Join(t.TempDir(), "gh.db")
	st, err := sqlstore.Open(ctx, "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := testdb.Workspace(t, st, "acme")
	w := audit.NewWriter(clock.Real{})
	write := func(n int) {
		for range n {
			if _, err := w.Write(ctx, ws, store.AuditRecord{Action: audit.ActionLoginSuccess, Outcome: audit.Failure, IP: "192.0.2.7"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(6)
	fc, err := secret.NewFieldCipher(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := &audit.KeyStore{Store: st.AuditKeys(), Leases: st.Maintenance(), Cipher: fc, Holder: "cli", Clock: clock.Real{}}
	file := filepath.Join(t.TempDir(), "cp.json")
	var out, errw strings.Builder
	if err := runCheckpointExport(ctx, keys, ws, file, time.Now(), &out, &errw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errw.String(), "checkpoint of record 6") {
		t.Errorf("export report: %q", errw.String())
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	// Exporting again with no new record gives the same checkpoint.
	out.Reset()
	if err := runCheckpointExport(ctx, keys, ws, "", time.Now(), &out, &errw); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(file)
	if out.String() != string(saved) {
		t.Errorf("second export differs:\n%s\n%s", out.String(), saved)
	}
	write(3)

	verify := func() (string, error) {
		var b strings.Builder
		err := runAuditVerifyFromCheckpoint(ctx, &b, st.AuditKeys(), ws, file)
		return b.String(), err
	}
	if got, err := verify(); err != nil || !strings.Contains(got, "record 6 matches the checkpoint") || !strings.Contains(got, "9 records, chain intact") {
		t.Fatalf("intact: %v %q", err, got)
	}

	// Rewrite record 3 and everything after it with recomputed hashes, straight in
	// the database (the append-only triggers dropped, as someone with the file can).
	recs, err := ws.Audit().ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, dropTriggersSQL); err != nil {
		t.Fatal(err)
	}
	recs[2].Outcome = audit.Success
	for i := 2; i < len(recs); i++ {
		recs[i].PrevHash = recs[i-1].Hash
		recs[i].Hash = audit.Hash(recs[i])
		if _, err := db.ExecContext(ctx, `UPDATE audit_log SET outcome = ?, prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?`,
			recs[i].Outcome, recs[i].PrevHash, recs[i].Hash, ws.ID, recs[i].Seq); err != nil {
			t.Fatal(err)
		}
	}
	var plain strings.Builder
	if err := runAuditVerify(ctx, &plain, st.AuditKeys(), ws, nil); err != nil || !strings.Contains(plain.String(), "9 records, chain intact") {
		t.Fatalf("plain verify of the rewritten trail should pass: %v %q", err, plain.String())
	}
	got, err := verify()
	if !errors.Is(err, errChainBroken) || !strings.Contains(got, "record 6: rewritten") {
		t.Errorf("rewritten: %v %q", err, got)
	}

	// Records cut off before the checkpoint.
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_log WHERE tenant_id = ? AND seq > 4`, ws.ID); err != nil {
		t.Fatal(err)
	}
	got, err = verify()
	if !errors.Is(err, errChainBroken) || !strings.Contains(got, "records cut off after 4") {
		t.Errorf("cut off: %v %q", err, got)
	}

	// A checkpoint of another key: a warning (and here the rewrite too).
	other := testdb.Store(t)
	ows := testdb.Workspace(t, other, "acme")
	got, err = func() (string, error) {
		var b strings.Builder
		ows.Tenant.ID = ws.ID
		err := runAuditVerifyFromCheckpoint(ctx, &b, other.AuditKeys(), ows, file)
		return b.String(), err
	}()
	if err == nil || !strings.Contains(got, "WARNING: the checkpoint is signed by key") {
		t.Errorf("other deployment: %v %q", err, got)
	}

	// A tampered file is refused.
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, bytes.Replace(saved, []byte(`"seq": 6`), []byte(`"seq": 5`), 1), 0o600)
	var b strings.Builder
	if err := runAuditVerifyFromCheckpoint(ctx, &b, st.AuditKeys(), ws, bad); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("tampered file: %v", err)
	}
}

const dropTriggersSQL = "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
