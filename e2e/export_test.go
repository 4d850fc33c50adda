package e2e

import (
	"archive/zip"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTenantExportCLI: the operator exports a running gateway's tenant with the built
// binary. The JSON file (0600) holds the members, the signed-in member's session and
// the audit trail, and not the session's cookie; the CSV export is a zip of one file
// per kind; a wrong format or tenant fails and leaves no file.
func TestTenantExportCLI(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const pw = "passphrase for the export test"
	addUser(t, g, "boss@example.com", "owner", pw)
	addUser(t, g, "mia@example.com", "member", pw)
	c := browser(t)
	signInAs(t, c, g.url, "mia@example.com", pw)
	var cookies []string
	for _, ck := range c.Jar.Cookies(mustURL(t, g.url)) {
		cookies = append(cookies, ck.Value)
	}
	if len(cookies) == 0 {
		t.Fatal("no session cookie after signing in")
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "default.json")
	out := cliOK(t, g, "tenant default: exported json with the audit trail to "+file, "export", "--format", "json", "--with-audit", "-o", file)
	if !strings.Contains(out, "2 members") || !strings.Contains(out, "1 sessions") {
		t.Errorf("the summary: %s", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the export file: %v %v", fi, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tenant   string           `json:"tenant"`
		Members  []map[string]any `json:"members"`
		Sessions []map[string]any `json:"sessions"`
		Audit    []map[string]any `json:"audit"`
		Counts   map[string]int   `json:"counts"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the export is not JSON: %v\n%.1000s", err, b)
	}
	var emails []string
	for _, m := range doc.Members {
		emails = append(emails, m["email"].(string))
	}
	slices.Sort(emails)
	if doc.Tenant != "default" || !slices.Equal(emails, []string{"boss@example.com", "mia@example.com"}) ||
		len(doc.Sessions) != 1 || doc.Sessions[0]["email"] != "mia@example.com" || len(doc.Audit) < 3 || doc.Counts["audit"] != len(doc.Audit) {
		t.Fatalf("the export: tenant %q members %v sessions %v, %d audit records, counts %v", doc.Tenant, emails, doc.Sessions, len(doc.Audit), doc.Counts)
	}
	for _, v := range cookies {
		if len(v) >= 16 && strings.Contains(string(b), v) {
			t.Error("the export holds the session cookie")
		}
	}

	zipFile := filepath.Join(dir, "default.zip")
	cliOK(t, g, "tenant default: exported csv to "+zipFile, "export", "--format", "csv", "-o", zipFile)
	zr, err := zip.OpenReader(zipFile)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	if want := []string{"workspace.csv", "settings.csv", "roles.csv", "teams.csv", "team_members.csv", "members.csv", "sessions.csv",
		"factors.csv", "passkeys.csv"}; !slices.Equal(names, want) {
		t.Errorf("the zip holds %q, want %q", names, want)
	}

	// A password-protected zip: unreadable as a zip, and decrypted by the CLI to the
	// same files.
	encFile, decFile := filepath.Join(dir, "default.zip.enc"), filepath.Join(dir, "decrypted.zip")
	if out, err := g.cli("a long export passphrase\n", "export", "--format", "csv", "--password-stdin", "-o", encFile); err != nil ||
		!strings.Contains(out, "exported password-protected csv") {
		t.Fatalf("encrypted export: %v\n%s", err, out)
	}
	if _, err := zip.OpenReader(encFile); err == nil {
		t.Fatal("the password-protected export opens as a plain zip")
	}
	decrypt := func(password string, args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"export", "decrypt", "--password-stdin"}, args...)...)
		cmd.Stdin = strings.NewReader(password + "\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := decrypt("a long export passphrase", "-i", encFile, "-o", decFile); err != nil {
		t.Fatalf("decrypt: %v\n%s", err, out)
	}
	if out, err := decrypt("the wrong passphrase", "-i", encFile, "-o", decFile+".2"); err == nil ||
		!strings.Contains(out, "wrong password") {
		t.Fatalf("decrypt with the wrong password: %v\n%s", err, out)
	}
	if dz, err := zip.OpenReader(decFile); err != nil || len(dz.File) != len(names) {
		t.Fatalf("the decrypted export: %v", err)
	} else {
		dz.Close()
	}

	// The exports are in the trail, by the CLI.
	trail := coverageTrail(t, g, "default")
	n := 0
	for _, r := range trail {
		if r.action == "tenant.exported" && r.actorID == "cli" && r.outcome == "success" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d tenant.exported records by the CLI, want 3", n)
	}

	// Through the API: the owner starts an export in the background, polls it, and
	// downloads the zip once.
	oc := browser(t)
	signInAs(t, oc, g.url, "boss@example.com", pw)
	st, body := apiCall(t, oc, "POST", g.url+"/auth/api/v1/admin/exports", map[string]any{"format": "csv", "with_audit": true})
	job := decodeJSON[map[string]any](t, "export start", body)
	if st != http.StatusAccepted || job["state"] != "queued" {
		t.Fatalf("POST exports: %d %s", st, body)
	}
	waitFor(t, "the export to be ready", func() bool {
		_, body := apiCall(t, oc, "GET", g.url+"/auth/api/v1/admin/exports/"+job["id"].(string), nil)
		job = decodeJSON[map[string]any](t, "export status", body)
		return job["state"] == "ready"
	})
	st, zipBody, resp := get(t, oc, g.url+job["download_url"].(string))
	if st != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %d %v", st, resp.Header)
	}
	zr2, err := zip.NewReader(strings.NewReader(zipBody), int64(len(zipBody)))
	if err != nil || len(zr2.File) != 10 {
		t.Fatalf("the downloaded zip: %v", err)
	}
	if st, _, _ := get(t, oc, g.url+job["download_url"].(string)); st != http.StatusNotFound {
		t.Errorf("a second download: %d", st)
	}

	cliFails(t, g, `--format "xml": must be json or csv`, "export", "--format", "xml", "-o", filepath.Join(dir, "x"))
	cliFails(t, g, `--tenant "nope": no such tenant`, "export", "--tenant", "nope", "--format", "json", "-o", filepath.Join(dir, "y"))
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 { // the three exports and the decrypted zip
		t.Errorf("files after failed exports: %d, want the 3 exports and the decrypted one", len(entries))
	}
}
