package web

import (
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

var csvLinkRE = regexp.MustCompile(`<a href="([^"]+)" download>Download CSV</a>`)

// readAuditCSV parses an export and returns its data rows' targets.
func readAuditCSV(t *testing.T, b []byte) []string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(rows) == 0 || !slices.Equal(rows[0], admin.AuditColumns) {
		t.Fatalf("CSV: %v\n%s", err, b)
	}
	var targets []string
	for _, row := range rows[1:] {
		targets = append(targets, row[6])
	}
	return targets
}

// TestAuditExportCSVPage: the Audit page links to the CSV of its filter; the download
// is an attachment with the chain status, respects the filter, is audited; cross-site
// requests, members and anonymous callers get nothing.
func TestAuditExportCSVPage(t *testing.T) {
	t.Parallel()
	f, oc, ac, mc := auditSearchFixture(t)
	st, body := getPage(t, oc, f.srv.URL+"/auth/admin/audit?action=test.&outcome=failure&limit=2")
	m := csvLinkRE.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("no Download CSV link: %d\n%s", st, body)
	}
	link := html.UnescapeString(m[1])
	if !strings.HasPrefix(link, "/auth/admin/audit/export.csv?") || !strings.Contains(link, "action=test.") ||
		!strings.Contains(link, "outcome=failure") || strings.Contains(link, "limit=") {
		t.Fatalf("CSV link %q", link)
	}
	if _, body := getPage(t, oc, f.srv.URL+"/auth/admin/audit"); !strings.Contains(body, `<a href="/auth/admin/audit/export.csv" download>`) {
		t.Fatalf("unfiltered page's CSV link:\n%s", body)
	}

	st, h, b := send(t, ac, "GET", f.srv.URL+link, nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if st != http.StatusForbidden || len(f.audits(t, admin.ActionAuditExport)) != 0 || strings.Contains(string(b), "thing:") {
		t.Fatalf("cross-site export: %d %s", st, b)
	}
	st, h, b = send(t, ac, "GET", f.srv.URL+link, nil, nil)
	if st != http.StatusOK || h.Get("Content-Type") != "text/csv; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="audit-acme-`) ||
		!strings.HasPrefix(h.Get(AuditChainHeader), "intact; through=") {
		t.Fatalf("export: %d %v\n%s", st, h, b)
	}
	if got := readAuditCSV(t, b); strings.Join(got, " ") != "thing:3 thing:1" {
		t.Fatalf("filtered export: %v", got)
	}
	recs := f.audits(t, admin.ActionAuditExport)
	if len(recs) != 1 || recs[0].ActorEmail != "admin@example.com" || recs[0].Details["rows"] != "2" ||
		recs[0].Details["filter"] != "action=test.&outcome=failure" {
		t.Fatalf("export records: %+v", recs)
	}
	// A bad filter is named before anything is sent.
	if st, body := getPage(t, oc, f.srv.URL+"/auth/admin/audit/export.csv?ip=nope"); st != http.StatusBadRequest || !strings.Contains(body, "not an IP address") {
		t.Fatalf("bad filter: %d\n%s", st, body)
	}
	u := f.srv.URL + "/auth/admin/audit/export.csv"
	if st, body := getPage(t, mc, u); st != http.StatusForbidden || strings.Contains(body, "thing:") {
		t.Fatalf("member: %d", st)
	}
	if st := getStatus(t, noRedirect(t), u); st != http.StatusSeeOther {
		t.Fatalf("without a session: %d", st)
	}
	if n := len(f.audits(t, admin.ActionAuditExport)); n != 1 {
		t.Fatalf("%d export records after refusals", n)
	}
}

// TestAuditExportAPI: format=csv (the default) streams the filtered export; pdf is
// a PDF document, another format refused; other origins and members are refused.
func TestAuditExportAPI(t *testing.T) {
	t.Parallel()
	f, oc, _, mc := auditSearchFixture(t)
	base := f.srv.URL + "/auth/api/v1/admin/audit/export"
	for _, q := range []string{"?format=csv&action=test.&actor=zed@example.com", "?action=test.&actor=zed@example.com"} {
		st, h, b := send(t, oc, "GET", base+q, nil, nil)
		if st != http.StatusOK || h.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(h.Get(AuditChainHeader), "intact; through=") {
			t.Fatalf("%s: %d %v\n%s", q, st, h, b)
		}
		if got := readAuditCSV(t, b); strings.Join(got, " ") != "thing:4 thing:2 thing:0" {
			t.Fatalf("%s: %v", q, got)
		}
	}
	st, h, b := send(t, oc, "GET", base+"?format=pdf&action=test.", nil, nil)
	if st != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(b), "%PDF-") ||
		!strings.HasSuffix(h.Get("Content-Disposition"), `.pdf"`) || !strings.HasPrefix(h.Get(AuditChainHeader), "intact; through=") {
		t.Fatalf("pdf: %d %v", st, h)
	}
	st, out := getJSON(t, oc, base+"?format=xls")
	if msg, _ := out["message"].(string); st != http.StatusBadRequest || out["error"] != "invalid_format" || !strings.Contains(msg, "csv or pdf") {
		t.Fatalf("xls: %d %v", st, out)
	}
	if st, out := getJSON(t, oc, base+"?outcome=meh"); st != http.StatusBadRequest || out["error"] != "invalid_outcome" {
		t.Fatalf("bad outcome: %d %v", st, out)
	}
	if st, _, _ := send(t, oc, "GET", base, nil, map[string]string{"Origin": "https://evil.example"}); st != http.StatusForbidden {
		t.Fatalf("other origin: %d", st)
	}
	if st, _ := getJSON(t, mc, base); st != http.StatusForbidden {
		t.Fatalf("member: %d", st)
	}
	recs := f.audits(t, admin.ActionAuditExport)
	formats := map[string]int{}
	for _, r := range recs {
		formats[r.Details["format"]]++
	}
	if len(recs) != 3 || formats["csv"] != 2 || formats["pdf"] != 1 {
		t.Fatalf("%d export records (%v), want 2 csv and 1 pdf", len(recs), formats)
	}
}
