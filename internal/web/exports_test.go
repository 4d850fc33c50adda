package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// TestExportsAPI: an owner starts an export (202, queued), polls it until ready and
// downloads it once (a JSON document with the members); the second download is 404;
// a member is refused, another admin finds nothing, and a stale session must
// re-authenticate first.
func TestExportsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.portal.Exports = &admin.ExportJobs{Export: admin.TenantExport{Service: f.admin}, Dir: t.TempDir()}
	t.Cleanup(func() { f.portal.Exports.Close() })
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	f.addUser(t, "member@example.com", pw)
	oc, ac, mc := browser(t, firefoxUA, "198.51.100.7"), browser(t, firefoxUA, "198.51.100.8"), browser(t, firefoxUA, "198.51.100.9")
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	base := f.srv.URL + "/auth/api/v1/admin/exports"

	if st, out := postJSON(t, mc, base, map[string]any{"format": "json"}); st != http.StatusForbidden {
		t.Fatalf("a member: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, base, map[string]any{"format": "xml"}); st != http.StatusBadRequest || out["error"] != "invalid_format" {
		t.Fatalf("format xml: %d %v", st, out)
	}
	st, out := postJSON(t, oc, base, map[string]any{"format": "json", "with_audit": true})
	if st != http.StatusAccepted || out["state"] != admin.ExportQueued {
		t.Fatalf("start: %d %v", st, out)
	}
	id := out["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for out["state"] != admin.ExportReady && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if st, out = getJSON(t, oc, base+"/"+id); st != http.StatusOK {
			t.Fatalf("status: %d %v", st, out)
		}
	}
	if out["state"] != admin.ExportReady || out["download_url"] != "/auth/api/v1/admin/exports/"+id+"/download" {
		t.Fatalf("not ready: %v", out)
	}
	if st, _ := getJSON(t, ac, base+"/"+id); st != http.StatusNotFound {
		t.Errorf("another admin sees the export: %d", st)
	}
	if st, _, _ := send(t, ac, "GET", base+"/"+id+"/download", nil, nil); st != http.StatusNotFound {
		t.Errorf("another admin downloads the export: %d", st)
	}
	st, hdr, body := send(t, oc, "GET", base+"/"+id+"/download", nil, nil)
	var doc struct {
		Members []map[string]any `json:"members"`
		Audit   []map[string]any `json:"audit"`
	}
	if st != http.StatusOK || hdr.Get("Content-Type") != "application/json" || hdr.Get("Cache-Control") != "no-store" ||
		json.Unmarshal(body, &doc) != nil || len(doc.Members) != 3 || len(doc.Audit) == 0 {
		t.Fatalf("download: %d %v %.300s", st, hdr, body)
	}
	if st, _, _ := send(t, oc, "GET", base+"/"+id+"/download", nil, nil); st != http.StatusNotFound {
		t.Errorf("a second download: %d", st)
	}
	if recs := f.audits(t, admin.ActionTenantExported); len(recs) != 1 || recs[0].ActorEmail != "owner@example.com" || recs[0].IP != "198.51.100.7" {
		t.Errorf("export records: %+v", recs)
	}

	clk.Advance(authn.DefaultReauthAge + time.Second)
	if st, out := postJSON(t, oc, base, map[string]any{"format": "csv"}); st != http.StatusUnauthorized || out["error"] != "reauthentication_required" {
		t.Fatalf("a stale session: %d %v", st, out)
	}
}

// TestExportsPage: owners find Exports in the navigation (members do not), prepare an
// export with the form, see it ready on the page, and download it once by its link.
func TestExportsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.Exports = &admin.ExportJobs{Export: admin.TenantExport{Service: f.admin}, Dir: t.TempDir()}
	t.Cleanup(func() { f.portal.Exports.Close() })
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUser(t, "member@example.com", pw)
	oc, mc := browser(t, firefoxUA, "198.51.100.7"), browser(t, firefoxUA, "198.51.100.9")
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	page := f.srv.URL + "/auth/admin/exports"

	if _, body := getPage(t, mc, f.srv.URL+"/auth/settings/security"); strings.Contains(body, "/auth/admin/exports") {
		t.Error("a member's navigation offers Exports")
	}
	if st, _ := getPage(t, mc, page); st != http.StatusForbidden {
		t.Errorf("a member on the Exports page: %d", st)
	}
	st, body := getPage(t, oc, page)
	if st != http.StatusOK || !strings.Contains(body, `href="/auth/admin/exports" aria-current="page"`) || !strings.Contains(body, "None yet.") {
		t.Fatalf("the Exports page: %d\n%s", st, body)
	}
	st, _, body = submit(t, oc, page, page, url.Values{"format": {"csv"}, "with_audit": {"on"}})
	if st != http.StatusOK || !strings.Contains(body, "The export is being prepared") || !strings.Contains(body, "csv with the audit trail") {
		t.Fatalf("preparing: %d\n%s", st, body)
	}
	linkRE := regexp.MustCompile(`href="(/auth/admin/exports/[^"]+/download)"`)
	var link string
	deadline := time.Now().Add(20 * time.Second)
	for link == "" && time.Now().Before(deadline) {
		_, body = getPage(t, oc, page)
		if m := linkRE.FindStringSubmatch(body); m != nil {
			link = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if link == "" {
		t.Fatalf("no download link:\n%s", body)
	}
	st, hdr, zipBody := send(t, oc, "GET", f.srv.URL+link, nil, nil)
	if st != http.StatusOK || hdr.Get("Content-Type") != "application/zip" || !strings.HasPrefix(string(zipBody), "PK") {
		t.Fatalf("download: %d %v", st, hdr)
	}
	if st, _, _ := send(t, oc, "GET", f.srv.URL+link, nil, nil); st != http.StatusNotFound {
		t.Errorf("a second download: %d", st)
	}
	if _, body = getPage(t, oc, page); !strings.Contains(body, "downloaded") {
		t.Errorf("the page after the download:\n%s", body)
	}
}
