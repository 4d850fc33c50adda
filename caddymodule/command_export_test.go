package caddymodule

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// TestTenantExportCommand: the file is created 0600 and holds the export; the export
// is recorded with the CLI as actor; a failed export leaves no file (and an earlier
// file of that name untouched), nor a temporary one.
func TestTenantExportCommand(t *testing.T) {
	ctx := t.Context()
	st := testdb.Store(t)
	ws := testdb.Workspace(t, st, "acme")
	clk := clock.Real{}
	svc := &admin.Service{Audit: audit.NewWriter(clk), Clock: clk, Hasher: &identity.Hasher{Cost: 4}, Rules: identity.PasswordRules{MinLength: 8}}
	for _, email := range []string{"ann@acme.test", "bob@acme.test"} {
		if _, err := svc.AddUser(ctx, ws, admin.CLI(), authn.NewUser{Email: email, Password: "long enough pw", Roles: []string{identity.RoleMember}}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()

	out := filepath.Join(dir, "acme.json")
	var stderr strings.Builder
	if err := runTenantExport(ctx, svc, ws, admin.TenantExportOptions{Format: "json", WithAudit: true}, out, nil, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "tenant acme: exported json with the audit trail to "+out+": 0 roles, 0 teams, 0 team members, 2 members") {
		t.Errorf("stderr: %q", stderr.String())
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(out)
	var doc struct {
		Tenant  string           `json:"tenant"`
		Members []map[string]any `json:"members"`
		Audit   []map[string]any `json:"audit"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Tenant != "acme" || len(doc.Members) != 2 || len(doc.Audit) != 2 {
		t.Fatalf("the export: %v %+v", err, doc)
	}
	recs, _ := ws.Audit().ListAudit(ctx, 2, 10)
	if len(recs) != 1 || recs[0].Action != admin.ActionTenantExported || recs[0].ActorID != audit.CLI.UserID ||
		recs[0].Details["format"] != "json" || recs[0].Details["with_audit"] != "true" || recs[0].Details["members"] != "2" {
		t.Fatalf("export record: %+v", recs)
	}

	zipOut := filepath.Join(dir, "acme.zip")
	if err := runTenantExport(ctx, svc, ws, admin.TenantExportOptions{Format: "csv"}, zipOut, nil, &stderr); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zipOut)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(admin.ExportKinds)-1 { // no audit.csv without --with-audit
		t.Errorf("%d files in the zip", len(zr.File))
	}
	zr.Close()

	// A failing export (the store cannot be read) leaves the earlier file as it was
	// and no temporary file.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := runTenantExport(cancelled, svc, ws, admin.TenantExportOptions{Format: "json"}, out, nil, &stderr); err == nil {
		t.Fatal("an export that cannot read the store succeeded")
	}
	if after, _ := os.ReadFile(out); string(after) != string(b) {
		t.Error("a failed export changed the earlier file")
	}
	if err := runTenantExport(cancelled, svc, ws, admin.TenantExportOptions{Format: "json"}, filepath.Join(dir, "new.json"), nil, &stderr); err == nil {
		t.Fatal("an export that cannot read the store succeeded")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "acme.json acme.zip" {
		t.Errorf("files after failed exports: %q", names)
	}
}

// TestTenantExportCommandEncrypted: with a password the file is the README's
// encrypted format: it opens with that password (and not another) to the same JSON
// document, and the command says it is password-protected.
func TestTenantExportCommandEncrypted(t *testing.T) {
	ctx := t.Context()
	st := testdb.Store(t)
	ws := testdb.Workspace(t, st, "acme")
	clk := clock.Real{}
	svc := &admin.Service{Audit: audit.NewWriter(clk), Clock: clk, Hasher: &identity.Hasher{Cost: 4}, Rules: identity.PasswordRules{MinLength: 8}}
	if _, err := svc.AddUser(ctx, ws, admin.CLI(), authn.NewUser{Email: "ann@acme.test", Password: "long enough pw", Roles: []string{identity.RoleMember}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "acme.json.enc")
	var stderr strings.Builder
	if err := runTenantExport(ctx, svc, ws, admin.TenantExportOptions{Format: "json"}, out, []byte("correct horse"), &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "exported password-protected json") {
		t.Errorf("stderr: %q", stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("ann@acme.test")) || !bytes.HasPrefix(raw, []byte("GHEXPENC")) {
		t.Fatal("the file is not encrypted")
	}
	if _, err := io.ReadAll(mustReader(t, raw, "wrong horse")); !errors.Is(err, exportcrypt.ErrWrongPassword) {
		t.Fatalf("another password: %v", err)
	}
	plain, err := io.ReadAll(mustReader(t, raw, "correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tenant  string           `json:"tenant"`
		Members []map[string]any `json:"members"`
	}
	if err := json.Unmarshal(plain, &doc); err != nil || doc.Tenant != "acme" || len(doc.Members) != 1 {
		t.Fatalf("the decrypted export: %v %+v", err, doc)
	}
}

// mustReader opens an encrypted export; a wrong password may fail here or on read.
func mustReader(t *testing.T, raw []byte, password string) io.Reader {
	t.Helper()
	r, err := exportcrypt.NewReader(bytes.NewReader(raw), []byte(password))
	if err != nil {
		return iotest.ErrReader(err)
	}
	return r
}
