package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditSearchFixture signs in an owner, an admin and a member and appends five
// "test." records after the sign-ins' own, with distinct actors, IPs and targets.
func auditSearchFixture(t *testing.T) (f *fixture, oc, ac, mc *http.Client) {
	t.Helper()
	f = newFixture(t, 4)
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	f.addUser(t, "mem@example.com", pw)
	oc, ac, mc = noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "mem@example.com", pw)
	for i := range 5 {
		actor := audit.Actor{UserID: "us-x", Email: "Zed@Example.com"}
		outcome := audit.Success
		if i%2 == 1 {
			actor, outcome = audit.Actor{UserID: "us-y", Email: "yan@example.com"}, audit.Failure
		}
		r := audit.Event(fmt.Sprintf("test.e%d", i), outcome, actor, audit.Origin{IP: fmt.Sprintf("203.0.113.%d", 10+i), UserAgent: "ua"})
		r.Target = fmt.Sprintf("thing:%d", i)
		r.Details = map[string]string{"note": fmt.Sprintf("needle-%d <b>", i)}
		if err := f.admin.Audit.Record(t.Context(), f.ws, r); err != nil {
			t.Fatal(err)
		}
	}
	return f, oc, ac, mc
}

// apiTargets runs an audit API search and returns the targets found, and the cursor.
func apiTargets(t *testing.T, c *http.Client, base, query string) (int, []string, string, map[string]any) {
	t.Helper()
	st, out := getJSON(t, c, base+"/auth/api/v1/admin/audit?"+query)
	var targets []string
	recs, _ := out["records"].([]any)
	for _, r := range recs {
		targets = append(targets, r.(map[string]any)["target"].(string))
	}
	next, _ := out["next"].(string)
	return st, targets, next, out
}

// TestAuditSearchAPI: each filter, paging with the cursor, bad values named, members refused.
func TestAuditSearchAPI(t *testing.T) {
	t.Parallel()
	f, oc, ac, mc := auditSearchFixture(t)
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	for _, c := range []struct{ query, want string }{
		{"action=test.", "thing:4 thing:3 thing:2 thing:1 thing:0"},
		{"action=test.e3", "thing:3"},
		{"action=test.&actor=ZED@example.com", "thing:4 thing:2 thing:0"},
		{"action=test.&outcome=failure", "thing:3 thing:1"},
		{"ip=203.0.113.12", "thing:2"},
		{"action=test.&ip=203.0.113.8/30", "thing:1 thing:0"},
		{"target=thing:1", "thing:1"},
		{"q=needle-4", "thing:4"},
		{"q=" + url.QueryEscape("<b>") + "&action=test.e0", "thing:0"},
		{"action=test.&from=" + today + "&to=" + today, "thing:4 thing:3 thing:2 thing:1 thing:0"},
		{"action=test.&from=" + tomorrow, ""},
		{"action=nothing", ""},
	} {
		st, got, next, out := apiTargets(t, ac, f.srv.URL, c.query)
		if st != http.StatusOK || strings.Join(got, " ") != c.want || next != "" {
			t.Errorf("%s: %d %v next %q, want %s (%v)", c.query, st, got, next, c.want, out)
		}
	}
	// A whole record, as the API shows it.
	_, out := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/audit?target=thing:2")
	r := out["records"].([]any)[0].(map[string]any)
	if r["actor_email"] != "Zed@Example.com" || r["outcome"] != "success" || r["ip"] != "203.0.113.12" || r["user_agent"] != "ua" ||
		r["details"].(map[string]any)["note"] != "needle-2 <b>" || len(r["hash"].(string)) != 64 || len(r["prev_hash"].(string)) != 64 || r["time"] == "" {
		t.Errorf("record %v", r)
	}
	// Paging: two at a time, no gaps, no duplicates, the filter kept.
	var all []string
	for q, pages := "action=test.&limit=2", 0; ; pages++ {
		st, got, next, _ := apiTargets(t, oc, f.srv.URL, q)
		if st != http.StatusOK || pages > 3 {
			t.Fatalf("page %d: %d", pages, st)
		}
		all = append(all, got...)
		if next == "" {
			break
		}
		q = "action=test.&limit=2&before=" + next
	}
	if strings.Join(all, " ") != "thing:4 thing:3 thing:2 thing:1 thing:0" {
		t.Errorf("paged %v", all)
	}
	for query, field := range map[string]string{"from=yesterday": "from", "to=2026-02-30": "to", "outcome=meh": "outcome",
		"ip=1.2.3": "ip", "ip=10.0.0.0/40": "ip", "before=x": "before", "limit=999": "limit"} {
		st, _, _, out := apiTargets(t, oc, f.srv.URL, query)
		if st != http.StatusBadRequest || out["error"] != "invalid_"+field {
			t.Errorf("%s: %d %v, want 400 invalid_%s", query, st, out, field)
		}
	}
	if st, out := getJSON(t, mc, f.srv.URL+"/auth/api/v1/admin/audit"); st != http.StatusForbidden {
		t.Errorf("member: %d %v", st, out)
	}
	if st, _ := getJSON(t, mc, f.srv.URL+"/auth/api/v1/admin/audit/1"); st != http.StatusForbidden {
		t.Errorf("member reading a record: %d", st)
	}
	if st, _ := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/audit/99999"); st != http.StatusNotFound {
		t.Errorf("unknown record: %d", st)
	}
}

var olderRE = regexp.MustCompile(`<a href="([^"]+)" rel="next">Older</a>`)

// TestAuditSearchPages: the page lists records newest first with the form filled in,
// pages on with "Older" keeping the filter, names a bad field, links each record to
// its own page with every field; members are refused.
func TestAuditSearchPages(t *testing.T) {
	t.Parallel()
	f, oc, _, mc := auditSearchFixture(t)
	st, body := getPage(t, oc, f.srv.URL+"/auth/admin/audit")
	for _, want := range []string{"<h1>Audit trail</h1>", `href="/auth/admin/audit" aria-current="page"`, ">Audit</a>",
		"test.e4", "thing:4", "203.0.113.14", "Zed@Example.com", "login.success", `name="actor"`, `name="ip"`, `name="q"`} {
		if st != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("audit page lacks %q: %d\n%s", want, st, body)
		}
	}
	if strings.Index(body, "thing:4") > strings.Index(body, "thing:3") {
		t.Error("not newest first")
	}

	st, body = getPage(t, oc, f.srv.URL+"/auth/admin/audit?action=test.&outcome=success&limit=2")
	if st != http.StatusOK || !strings.Contains(body, "thing:4") || !strings.Contains(body, "thing:2") || strings.Contains(body, "thing:0") ||
		!strings.Contains(body, `value="test."`) || !strings.Contains(body, `<option value="success" selected>`) {
		t.Fatalf("first page: %d\n%s", st, body)
	}
	m := olderRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no Older link:\n%s", body)
	}
	older := html.UnescapeString(m[1])
	if !strings.Contains(older, "action=test.") || !strings.Contains(older, "outcome=success") || !strings.Contains(older, "before=") {
		t.Fatalf("Older link %q does not keep the filter", older)
	}
	st, body = getPage(t, oc, f.srv.URL+older)
	if st != http.StatusOK || !strings.Contains(body, "thing:0") || strings.Contains(body, "thing:2") || olderRE.MatchString(body) ||
		!strings.Contains(body, ">Newest</a>") {
		t.Fatalf("older page: %d\n%s", st, body)
	}

	st, body = getPage(t, oc, f.srv.URL+"/auth/admin/audit?ip=not-an-ip")
	if st != http.StatusBadRequest || !strings.Contains(body, "ip: not an IP address or CIDR prefix") || !strings.Contains(body, `value="not-an-ip"`) {
		t.Fatalf("bad filter: %d\n%s", st, body)
	}

	recs, err := f.handle.Audit().SearchAudit(t.Context(), store.AuditQuery{Target: "thing:3", Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	r := recs[0]
	link := fmt.Sprintf(`href="/auth/admin/audit/%d"`, r.Seq)
	if _, body = getPage(t, oc, f.srv.URL+"/auth/admin/audit?target=thing:3"); !strings.Contains(body, link) {
		t.Fatalf("no link %s:\n%s", link, body)
	}
	st, body = getPage(t, oc, f.srv.URL+fmt.Sprintf("/auth/admin/audit/%d", r.Seq))
	for _, want := range []string{fmt.Sprintf("Audit record %d", r.Seq), "test.e3", "thing:3", "failure", "yan@example.com", "us-y",
		"203.0.113.13", "ua", "needle-3 &lt;b&gt;", fmt.Sprintf("%x", r.Hash), fmt.Sprintf("%x", r.PrevHash), r.Time.UTC().Format(time.RFC3339Nano)} {
		if st != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("record page lacks %q: %d\n%s", want, st, body)
		}
	}
	if st, _ := getPage(t, oc, f.srv.URL+"/auth/admin/audit/99999"); st != http.StatusNotFound {
		t.Errorf("unknown record page: %d", st)
	}
	if st, _ := getPage(t, oc, f.srv.URL+"/auth/admin/audit/abc"); st != http.StatusNotFound {
		t.Errorf("bad record number: %d", st)
	}
	for _, u := range []string{"/auth/admin/audit", fmt.Sprintf("/auth/admin/audit/%d", r.Seq)} {
		if st, body := getPage(t, mc, f.srv.URL+u); st != http.StatusForbidden || strings.Contains(body, "thing:3") {
			t.Errorf("member on %s: %d", u, st)
		}
	}
	if _, body := getPage(t, mc, f.srv.URL+"/auth/settings/security"); strings.Contains(body, "/auth/admin/audit") {
		t.Error("members see the Audit entry")
	}
}

// TestAuditErasedRecordShown: once a user's personal data is erased from the trail,
// the page, the record page and the API say "(erased)" (pii_erased) instead of the
// e-mail, IP, user agent and details, and show the rest of the record as before.
func TestAuditErasedRecordShown(t *testing.T) {
	t.Parallel()
	f, oc, _, _ := auditSearchFixture(t)
	if res, err := f.handle.Audit().ErasePersonal(t.Context(), "us-y"); err != nil || res.Erased != 2 {
		t.Fatalf("ErasePersonal: %+v %v", res, err)
	}
	recs, err := f.handle.Audit().SearchAudit(t.Context(), store.AuditQuery{Target: "thing:3", Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	st, body := getPage(t, oc, f.srv.URL+"/auth/admin/audit?action=test.")
	if st != http.StatusOK || strings.Contains(body, "yan@example.com") || strings.Contains(body, "203.0.113.13") ||
		!strings.Contains(body, "us-y <small>(erased)</small>") || !strings.Contains(body, "203.0.113.12") {
		t.Fatalf("audit page after the erasure: %d\n%s", st, body)
	}
	st, body = getPage(t, oc, f.srv.URL+fmt.Sprintf("/auth/admin/audit/%d", recs[0].Seq))
	if st != http.StatusOK || strings.Contains(body, "needle-3") || strings.Contains(body, "yan@example.com") ||
		strings.Count(body, "(erased)") != 4 || !strings.Contains(body, "thing:3") || !strings.Contains(body, "us-y") {
		t.Fatalf("record page after the erasure: %d\n%s", st, body)
	}
	_, _, _, out := apiTargets(t, oc, f.srv.URL, "target=thing:3")
	r := out["records"].([]any)[0].(map[string]any)
	if r["pii_erased"] != true || r["actor_email"] != "" || r["ip"] != "" || r["actor_id"] != "us-y" {
		t.Errorf("API record after the erasure: %v", r)
	}
	_, _, _, out = apiTargets(t, oc, f.srv.URL, "target=thing:2")
	if r := out["records"].([]any)[0].(map[string]any); r["pii_erased"] != false || r["actor_email"] != "Zed@Example.com" {
		t.Errorf("another user's record: %v", r)
	}
}
