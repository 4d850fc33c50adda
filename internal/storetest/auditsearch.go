package storetest

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// searchRecords is a small trail with something for every filter to tell apart.
func searchRecords() []store.AuditRecord {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	return []store.AuditRecord{
		{Time: at(1), ActorID: "us-1", ActorEmail: "ada@example.test", Action: "login.success", Target: "user:us-1", Outcome: "success",
			IP: "198.51.100.7", Details: map[string]string{"method": "pwd", "page": "orders/x"}},
		{Time: at(2), ActorID: "us-2", ActorEmail: "Bob@Example.test", Action: "login.failure", Target: "user:us-2", Outcome: "failure",
			IP: "198.51.100.200", Details: map[string]string{"reason": "wrong 100% sure"}},
		{Time: at(3), ActorID: "us-1", ActorEmail: "ada@example.test", Action: "role.changed", Target: "user:us-2", Outcome: "success",
			IP: "203.0.113.9", Details: map[string]string{"note": `say "hi" \path`, "count": "1000 users"}},
		{Time: at(4), Action: "proxy.request", Target: "app:/orders", Outcome: "denied", IP: "2001:db8::5",
			Details: map[string]string{"path": "/orders_x"}},
		{Time: at(5), ActorID: "us-2", ActorEmail: "bob@example.test", Action: "login.success", Target: "user:us-2", Outcome: "success",
			IP: "::ffff:198.51.100.9"},
		{Time: at(6), ActorID: "us-1", ActorEmail: "ada@example.test", Action: "session.revoked", Target: "session:se-9", Outcome: "success",
			IP: "198.51.100.7", Details: map[string]string{"by": "ADMIN!"}},
	}
}

func seqsOf(recs []store.AuditRecord) []int64 {
	out := make([]int64, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

// testAuditSearch checks every filter, alone and together, newest first; LIKE
// wildcards in the text are literal; another tenant's records never show.
func testAuditSearch(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	other := st.Tenant(newTenant(t, st).ID)
	for _, r := range searchRecords() {
		_, err := h.Audit().Append(ctx(t), r, ChainHash)
		noErr(t, "Append", err)
		_, err = other.Audit().Append(ctx(t), r, ChainHash) // same records, other tenant
		noErr(t, "Append", err)
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	cases := []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"all", store.AuditQuery{}, []int64{6, 5, 4, 3, 2, 1}},
		{"from inclusive, to exclusive", store.AuditQuery{From: at(3), To: at(5)}, []int64{4, 3}},
		{"from only", store.AuditQuery{From: at(5)}, []int64{6, 5}},
		{"to only", store.AuditQuery{To: at(2)}, []int64{1}},
		{"actor id", store.AuditQuery{ActorID: "us-1"}, []int64{6, 3, 1}},
		{"actor e-mail in any case", store.AuditQuery{ActorEmail: "BOB@example.TEST"}, []int64{5, 2}},
		{"actor e-mail is exact", store.AuditQuery{ActorEmail: "bob@example"}, nil},
		{"action prefix", store.AuditQuery{ActionPrefix: "login."}, []int64{5, 2, 1}},
		{"whole action", store.AuditQuery{ActionPrefix: "login.success"}, []int64{5, 1}},
		{"action prefix is case-sensitive", store.AuditQuery{ActionPrefix: "LOGIN."}, nil},
		{"action prefix wildcards are literal", store.AuditQuery{ActionPrefix: "login_"}, nil},
		{"action prefix percent is literal", store.AuditQuery{ActionPrefix: "%"}, nil},
		{"outcome", store.AuditQuery{Outcome: "failure"}, []int64{2}},
		{"outcome denied", store.AuditQuery{Outcome: "denied"}, []int64{4}},
		{"ip", store.AuditQuery{IP: "198.51.100.7"}, []int64{6, 1}},
		{"ip is exact", store.AuditQuery{IP: "198.51.100"}, nil},
		{"cidr v4 (mapped too)", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/24")}, []int64{6, 5, 2, 1}},
		{"cidr narrower", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/25")}, []int64{6, 5, 1}},
		{"cidr unmasked", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.7/25")}, []int64{6, 5, 1}},
		{"cidr v6", store.AuditQuery{CIDR: netip.MustParsePrefix("2001:db8::/32")}, []int64{4}},
		{"target", store.AuditQuery{Target: "user:us-2"}, []int64{5, 3, 2}},
		{"text in target and details", store.AuditQuery{Text: "orders"}, []int64{4, 1}},
		{"text underscore is literal", store.AuditQuery{Text: "s_x"}, []int64{4}},
		{"text percent is literal", store.AuditQuery{Text: "100%"}, []int64{2}},
		{"text escape character", store.AuditQuery{Text: "n!"}, []int64{6}},
		{"text with quote and backslash", store.AuditQuery{Text: `"hi" \path`}, []int64{3}},
		{"text in actor e-mail, any case", store.AuditQuery{Text: "ADA@"}, []int64{6, 3, 1}},
		{"text in action", store.AuditQuery{Text: "revoked"}, []int64{6}},
		{"text nowhere", store.AuditQuery{Text: "zebra"}, nil},
		{"filters combine", store.AuditQuery{ActorID: "us-2", Outcome: "success"}, []int64{5}},
		{"filters combine with cidr", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/24"), ActionPrefix: "login.", To: at(5)}, []int64{2, 1}},
		{"before seq", store.AuditQuery{BeforeSeq: 4}, []int64{3, 2, 1}},
		{"before seq with filter", store.AuditQuery{ActorID: "us-1", BeforeSeq: 6}, []int64{3, 1}},
		{"before seq 1", store.AuditQuery{BeforeSeq: 1}, nil},
		{"limit", store.AuditQuery{Limit: 2}, []int64{6, 5}},
		{"limit with cidr", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/24"), Limit: 3}, []int64{6, 5, 2}},
	}
	for _, c := range cases {
		if c.q.Limit == 0 {
			c.q.Limit = store.MaxAuditSearch
		}
		got, err := h.Audit().SearchAudit(ctx(t), c.q)
		noErr(t, "SearchAudit "+c.name, err)
		if !slices.Equal(seqsOf(got), c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: seqs %v, want %v", c.name, seqsOf(got), c.want)
		}
		for _, r := range got {
			if r.TenantID != h.TenantID() {
				t.Fatalf("%s: record of tenant %q", c.name, r.TenantID)
			}
		}
	}
	// The records come back whole, as ListAudit reads them.
	all, err := h.Audit().ListAudit(ctx(t), 0, 100)
	noErr(t, "ListAudit", err)
	got, err := h.Audit().SearchAudit(ctx(t), store.AuditQuery{Target: "user:us-2", ActorID: "us-1", Limit: 1})
	noErr(t, "SearchAudit", err)
	if len(got) != 1 || fmt.Sprintf("%+v", got[0]) != fmt.Sprintf("%+v", all[2]) {
		t.Errorf("searched record %+v, listed %+v", got, all[2])
	}
	for _, limit := range []int{0, -1, store.MaxAuditSearch + 1} {
		if _, err := h.Audit().SearchAudit(ctx(t), store.AuditQuery{Limit: limit}); err == nil {
			t.Errorf("SearchAudit with limit %d: no error", limit)
		}
	}
	// A tenant without records finds nothing.
	empty := st.Tenant(newTenant(t, st).ID)
	got, err = empty.Audit().SearchAudit(ctx(t), store.AuditQuery{Limit: 10})
	noErr(t, "SearchAudit", err)
	if len(got) != 0 {
		t.Errorf("empty tenant: %d records", len(got))
	}
}

// testAuditSearchPaging pages through a trail with and without filters: the pages
// together are every match, newest first, without gaps or duplicates.
func testAuditSearchPaging(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	const n = 40
	for i := range n {
		r := auditRecord(i)
		if i%3 == 0 {
			r.Action = "logout"
		}
		r.IP = fmt.Sprintf("198.51.100.%d", i)
		_, err := h.Audit().Append(ctx(t), r, ChainHash)
		noErr(t, "Append", err)
	}
	cases := []struct {
		name  string
		q     store.AuditQuery
		match func(seq int64) bool
	}{
		{"all", store.AuditQuery{}, func(int64) bool { return true }},
		{"action prefix", store.AuditQuery{ActionPrefix: "logout"}, func(s int64) bool { return (s-1)%3 == 0 }},
		{"cidr", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/28")}, func(s int64) bool { return s-1 < 16 }},
		{"cidr and action", store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/28"), ActionPrefix: "login"},
			func(s int64) bool { return s-1 < 16 && (s-1)%3 != 0 }},
	}
	for _, c := range cases {
		var want []int64
		for s := int64(n); s >= 1; s-- {
			if c.match(s) {
				want = append(want, s)
			}
		}
		for _, limit := range []int{1, 3, 7, 100} {
			var got []int64
			q := c.q
			q.Limit = limit
			for pages := 0; ; pages++ {
				if pages > n+1 {
					t.Fatalf("%s, limit %d: paging does not end", c.name, limit)
				}
				page, err := h.Audit().SearchAudit(ctx(t), q)
				noErr(t, "SearchAudit", err)
				if len(page) > limit {
					t.Fatalf("%s: page of %d, limit %d", c.name, len(page), limit)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, seqsOf(page)...)
				q.BeforeSeq = page[len(page)-1].Seq
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, limit %d: paged seqs %v, want %v", c.name, limit, got, want)
			}
		}
	}
}
