package admin

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// exportBackends runs fn with a fixture on a fresh SQLite file and on a fresh
// PostgreSQL schema (testpg: unreachable skips outside CI, fails in CI).
func exportBackends(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		fn(t, newFixture(t))
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		st, err := sqlstore.Open(t.Context(), testpg.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f := newFixture(t)
		f.st, f.ws = st, testdb.Workspace(t, st, "acme")
		fn(t, f)
	})
}

// exportSecrets is what a seeded tenant holds that no export may contain.
type exportSecrets struct {
	owner                                     Admin
	passwordHash, token                       string
	tokenHash, totpSecret, passkeyKey, rcHash []byte
}

// needles are the secrets in every form an export could carry bytes in.
func (s exportSecrets) needles() map[string]string {
	n := map[string]string{"password hash": s.passwordHash, "session token": s.token}
	for name, b := range map[string][]byte{"token hash": s.tokenHash, "TOTP secret": s.totpSecret, "passkey public key": s.passkeyKey,
		"recovery code hash": s.rcHash} {
		n[name+" (raw)"] = string(b)
		n[name+" (hex)"] = hex.EncodeToString(b)
		n[name+" (base64)"] = base64.StdEncoding.EncodeToString(b)
		n[name+" (base64url)"] = base64.RawURLEncoding.EncodeToString(b)
	}
	return n
}

// seedTenant gives f's workspace one of everything: an owner, a member with a
// formula for a name, a team, a custom role and a changed built-in one, a policy, a
// live session, an authenticator app, recovery codes and a passkey.
func seedTenant(t *testing.T, f *fixture) exportSecrets {
	t.Helper()
	ctx := context.Background()
	owner, asOwner := f.user(t, "owner@acme.test", identity.RoleOwner)
	ann, err := f.svc.AddUser(ctx, f.ws, CLI(), authn.NewUser{Email: "ann@acme.test", Password: pw, Roles: []string{identity.RoleMember}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.ws.Users().SetDisplayName(ctx, ann.ID, `=HYPERLINK("http://evil.test","click")`))
	sales := store.Team{ID: "team-sales", Name: "Sales", CreatedAt: f.clk.Now()}
	must(f.ws.Teams().CreateTeam(ctx, sales))
	must(f.ws.Teams().AddTeamMember(ctx, sales.ID, ann.ID))
	must(f.ws.Teams().AddTeamMember(ctx, sales.ID, owner.ID))
	must(f.ws.Roles().PutRole(ctx, store.Role{Name: "auditor", Description: "reads the trail", Permissions: []string{"audit:read:tenant"}, UpdatedAt: f.clk.Now()}))
	must(f.ws.Roles().PutRole(ctx, store.Role{Name: identity.RoleMember, Permissions: []string{"profile:read:own"}, UpdatedAt: f.clk.Now()}))
	must(f.ws.Settings().PutSecuritySettings(ctx, store.SecuritySettings{Require2FA: true, LockoutThreshold: 7, UpdatedAt: f.clk.Now(), UpdatedBy: owner.ID}))

	sec := exportSecrets{owner: asOwner, token: "the-bearer-token-of-anns-session-7f3a9"}
	h := sha256.Sum256([]byte(sec.token))
	sec.tokenHash = h[:]
	now := f.clk.Now()
	must(f.ws.Sessions().CreateSession(ctx, store.Session{ID: "sess-ann-1", UserID: ann.ID, TokenHash: sec.tokenHash, AuthMethods: []string{"pwd", "otp"},
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour), LastActive: now.Add(-time.Minute), IP: "198.51.100.9", UserAgent: "Firefox on Linux"}))
	sec.totpSecret = []byte("sealed-totp-secret-of-ann-2b8c41d0")
	must(f.ws.TOTP().PutPendingTOTP(ctx, store.TOTPSecret{UserID: ann.ID, Ciphertext: sec.totpSecret, KeyID: "k1", CreatedAt: now.Add(-2 * time.Hour)}))
	must(f.ws.TOTP().ConfirmTOTP(ctx, ann.ID, now.Add(-90*time.Minute)))
	rc := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)}
	sec.rcHash = rc[1]
	must(f.ws.RecoveryCodes().ReplaceRecoveryCodes(ctx, ann.ID, rc, now))
	if _, err := f.ws.RecoveryCodes().UseRecoveryCode(ctx, ann.ID, rc[0], now); err != nil {
		t.Fatal(err)
	}
	sec.passkeyKey = []byte("cose-public-key-of-anns-yubikey-5c1e")
	must(f.ws.Passkeys().AddPasskey(ctx, store.Passkey{ID: "pk-1", UserID: ann.ID, CredentialID: []byte("cred-" + f.ws.ID), PublicKey: sec.passkeyKey,
		Name: "YubiKey", BackupEligible: true, Transports: []string{"usb"}, CreatedAt: now.Add(-time.Hour)}))
	stored, err := f.ws.Users().UserByID(ctx, ann.ID)
	if err != nil || stored.PasswordHash == "" {
		t.Fatalf("ann's password hash: %v", err)
	}
	sec.passwordHash = stored.PasswordHash
	return sec
}

// exportDoc is the JSON document as a reader sees it.
type exportDoc struct {
	Format    string                      `json:"format"`
	Version   int                         `json:"version"`
	Tenant    string                      `json:"tenant"`
	Workspace map[string]any              `json:"workspace"`
	Settings  map[string]any              `json:"settings"`
	Lists     map[string][]map[string]any `json:"-"`
	Counts    map[string]int              `json:"counts"`
}

func parseExport(t *testing.T, b []byte) exportDoc {
	t.Helper()
	var d exportDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the export is not one JSON document: %v\n%.2000s", err, b)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	d.Lists = map[string][]map[string]any{}
	for k, v := range raw {
		var l []map[string]any
		if json.Unmarshal(v, &l) == nil && v[0] == '[' {
			d.Lists[k] = l
		}
	}
	return d
}

func find(items []map[string]any, key, value string) map[string]any {
	for _, it := range items {
		if it[key] == value {
			return it
		}
	}
	return nil
}

// TestTenantExportJSON: one JSON document holds every kind with the right counts and
// the facts a portability request needs, and no secret in any encoding.
func TestTenantExportJSON(t *testing.T) {
	exportBackends(t, func(t *testing.T, f *fixture) {
		sec := seedTenant(t, f)
		var out bytes.Buffer
		sum, err := TenantExport{f.svc}.Export(t.Context(), f.ws, sec.owner, TenantExportOptions{Format: "json"}, &out)
		if err != nil {
			t.Fatal(err)
		}
		d := parseExport(t, out.Bytes())
		if d.Format != ExportDocumentFormat || d.Version != 1 || d.Tenant != "acme" || d.Workspace["slug"] != "acme" || d.Settings["lockout_threshold"] != 7.0 ||
			d.Settings["require_2fa"] != true {
			t.Fatalf("document head: %+v %v %v", d, d.Workspace, d.Settings)
		}
		want := map[string]int{KindWorkspace: 1, KindSettings: 1, KindRoles: 2, KindTeams: 1, KindTeamMembers: 2, KindMembers: 2,
			KindSessions: 1, KindFactors: 2, KindPasskeys: 1}
		for kind, n := range want {
			if d.Counts[kind] != n || sum.Counts[kind] != n {
				t.Errorf("%s: counted %d (summary %d), want %d", kind, d.Counts[kind], sum.Counts[kind], n)
			}
			if !singleKinds[kind] && len(d.Lists[kind]) != n {
				t.Errorf("%s: %d items, want %d", kind, len(d.Lists[kind]), n)
			}
		}
		if _, ok := d.Lists[KindAudit]; ok || d.Counts[KindAudit] != 0 {
			t.Errorf("an export without --with-audit holds the audit trail")
		}
		ann := find(d.Lists[KindMembers], "email", "ann@acme.test")
		if ann == nil || ann["has_password"] != true || ann["status"] != "active" || !slices.Equal(ann["teams"].([]any), []any{"Sales"}) {
			t.Errorf("ann: %v", ann)
		}
		if r := find(d.Lists[KindRoles], "name", "auditor"); r == nil || r["kind"] != "custom" {
			t.Errorf("custom role: %v", r)
		}
		if r := find(d.Lists[KindRoles], "name", "member"); r == nil || r["kind"] != "builtin_override" {
			t.Errorf("changed built-in role: %v", r)
		}
		if s := find(d.Lists[KindSessions], "id", "sess-ann-1"); s == nil || s["user_agent"] != "Firefox on Linux" || s["ip"] != "198.51.100.9" || s["email"] != "ann@acme.test" {
			t.Errorf("session: %v", s)
		}
		if fa := find(d.Lists[KindFactors], "email", "ann@acme.test"); fa == nil || fa["totp_enrolled"] != true || fa["totp_enrolled_at"] == "" ||
			fa["recovery_codes_left"] != 2.0 || fa["passkeys"] != 1.0 {
			t.Errorf("ann's factors: %v", fa)
		}
		if p := find(d.Lists[KindPasskeys], "id", "pk-1"); p == nil || p["name"] != "YubiKey" || p["backup_eligible"] != true || p["last_used_at"] != "" {
			t.Errorf("passkey: %v", p)
		}
		for name, needle := range sec.needles() {
			if bytes.Contains(out.Bytes(), []byte(needle)) {
				t.Errorf("the export holds the %s", name)
			}
		}
	})
}

// readZip opens a CSV export: file name → its rows.
func readZip(t *testing.T, b []byte) map[string][][]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the CSV export is not a zip: %v", err)
	}
	files := map[string][][]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > 0 && !bytes.Contains(raw, []byte("\r\n")) {
			t.Errorf("%s: lines do not end in CRLF", zf.Name)
		}
		rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatalf("%s: not CSV: %v", zf.Name, err)
		}
		files[zf.Name] = rows
		files["raw:"+zf.Name] = [][]string{{string(raw)}}
	}
	return files
}

// TestTenantExportCSV: a zip with one CSV file per kind, each with a header row and
// the same rows the JSON has; a formula in a name is defused; with WithAudit the trail
// is in it; no secret in any file.
func TestTenantExportCSV(t *testing.T) {
	exportBackends(t, func(t *testing.T, f *fixture) {
		sec := seedTenant(t, f)
		var out bytes.Buffer
		sum, err := TenantExport{f.svc}.Export(t.Context(), f.ws, sec.owner, TenantExportOptions{Format: "CSV", WithAudit: true}, &out)
		if err != nil {
			t.Fatal(err)
		}
		files := readZip(t, out.Bytes())
		for _, kind := range ExportKinds {
			rows, ok := files[kind+".csv"]
			if !ok {
				t.Errorf("no %s.csv in the zip", kind)
				continue
			}
			if len(rows) == 0 || !slices.Equal(rows[0], csvColumns(reflect.TypeOf(exportItems[kind]))) {
				t.Errorf("%s.csv: header %q", kind, rows)
			}
			if len(rows)-1 != sum.Counts[kind] {
				t.Errorf("%s.csv: %d rows, counted %d", kind, len(rows)-1, sum.Counts[kind])
			}
			for name, needle := range sec.needles() {
				if strings.Contains(files["raw:"+kind+".csv"][0][0], needle) {
					t.Errorf("%s.csv holds the %s", kind, name)
				}
			}
		}
		members := files["members.csv"]
		col := slices.Index(members[0], "display_name")
		found := false
		for _, r := range members[1:] {
			if strings.Contains(r[col], "HYPERLINK") {
				found = true
				if !strings.HasPrefix(r[col], "'=") {
					t.Errorf("formula not defused: %q", r[col])
				}
			}
		}
		if !found {
			t.Error("ann's display name is not in members.csv")
		}
		// The trail as it was when the export started: the seeding's records, each
		// with its hash; the export's own record comes after.
		trail, err := f.ws.Audit().ListAudit(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(files["audit.csv"]) - 1; got != len(trail)-1 || got == 0 {
			t.Fatalf("audit.csv: %d records, the trail has %d before the export's own", got, len(trail)-1)
		}
		last := trail[len(trail)-1]
		if last.Action != ActionTenantExported || last.ActorID != sec.owner.UserID || last.Details["format"] != "csv" ||
			last.Details["with_audit"] != "true" || last.Details[KindMembers] != "2" || last.Details[KindAudit] != strconv.Itoa(len(files["audit.csv"])-1) {
			t.Errorf("the export's record: %+v", last)
		}
	})
}

// TestTenantExportIsForFreshAdmins: a member is refused, an admin whose last proof of
// identity is old is asked to re-authenticate, an unknown format is a field error;
// nothing is written or recorded then.
func TestTenantExportIsForFreshAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, asMember := f.user(t, "mem@acme.test", identity.RoleMember)
	_, asAdmin := f.user(t, "adm@acme.test", identity.RoleAdmin)
	before := f.lastRecord(t).Seq
	x := TenantExport{f.svc}
	var out bytes.Buffer
	if _, err := x.Export(t.Context(), f.ws, asMember, TenantExportOptions{Format: "json"}, &out); !errors.Is(err, ErrForbidden) {
		t.Errorf("a member: %v", err)
	}
	f.clk.Advance(time.Hour)
	if _, err := x.Export(t.Context(), f.ws, asAdmin, TenantExportOptions{Format: "json"}, &out); !errors.Is(err, authn.ErrReauthRequired) {
		t.Errorf("a stale admin: %v", err)
	}
	asAdmin.Verified = f.clk.Now()
	var fe *FieldError
	if _, err := x.Export(t.Context(), f.ws, asAdmin, TenantExportOptions{Format: "xml"}, &out); !errors.As(err, &fe) || fe.Field != "format" {
		t.Errorf("format xml: %v", err)
	}
	if out.Len() != 0 || f.lastRecord(t).Seq != before {
		t.Errorf("a refused export wrote %d bytes or a record", out.Len())
	}
	if _, err := x.Export(t.Context(), f.ws, asAdmin, TenantExportOptions{Format: "json"}, &out); err != nil {
		t.Fatalf("a freshly verified admin: %v", err)
	}
	if r := f.lastRecord(t); r.Action != ActionTenantExported || r.Outcome != audit.Success || r.ActorID != asAdmin.UserID {
		t.Errorf("record: %+v", r)
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestTenantExportFailureIsRecorded: an export that cannot be written fails and is
// recorded as a failure.
func TestTenantExportFailureIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sec := seedTenant(t, f)
	for i := range 300 { // more than the sink's buffer
		f.svc.Audit.Record(t.Context(), f.ws, audit.Event("test.filler", audit.Success, audit.CLI, audit.Origin{UserAgent: strings.Repeat("x", 300+i)}))
	}
	_, err := TenantExport{f.svc}.Export(t.Context(), f.ws, sec.owner, TenantExportOptions{Format: "json", WithAudit: true}, &failingWriter{n: 10_000})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("export to a full disk: %v", err)
	}
	if r := f.lastRecord(t); r.Action != ActionTenantExported || r.Outcome != audit.Failure {
		t.Errorf("record: %+v", r)
	}
}
