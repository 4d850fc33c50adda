package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestAuditSearch: owners and admins page through the trail newest first with a
// cursor, filters apply, one record reads back whole; members are refused.
func TestAuditSearch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	_, adm := f.user(t, "admin@acme.test", identity.RoleAdmin)
	_, mem := f.user(t, "mem@acme.test", identity.RoleMember)
	existing, err := f.ws.Audit().ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		r := audit.Event("test.event", audit.Failure, owner.Actor, audit.Origin{IP: fmt.Sprintf("203.0.113.%d", i)})
		r.Target = fmt.Sprint("thing:", i)
		if err := f.svc.Audit.Record(ctx, f.ws, r); err != nil {
			t.Fatal(err)
		}
	}
	total := int64(len(existing) + 7)

	au := Audit{}
	var got []int64
	q := store.AuditQuery{ActionPrefix: "test.", Limit: 3}
	for pages := 0; ; pages++ {
		p, err := au.Search(ctx, f.ws, adm, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			got = append(got, r.Seq)
		}
		if p.Next == "" {
			if pages != 2 || len(p.Records) != 1 {
				t.Fatalf("last page %d with %d records", pages, len(p.Records))
			}
			break
		}
		if q.BeforeSeq, err = ParseAuditCursor(p.Next); err != nil {
			t.Fatal(err)
		}
	}
	var want []int64
	for s := total; s > total-7; s-- {
		want = append(want, s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	// An exact page has no next cursor.
	if p, err := au.Search(ctx, f.ws, owner, store.AuditQuery{ActionPrefix: "test.", Limit: 7}); err != nil || len(p.Records) != 7 || p.Next != "" {
		t.Fatalf("exact page: %d records, next %q, %v", len(p.Records), p.Next, err)
	}
	p, err := au.Search(ctx, f.ws, owner, store.AuditQuery{CIDR: netip.MustParsePrefix("203.0.113.4/31")})
	if err != nil || len(p.Records) != 2 || p.Records[0].Target != "thing:5" || p.Records[1].Target != "thing:4" {
		t.Fatalf("cidr search: %+v %v", p, err)
	}
	if _, err := au.Search(ctx, f.ws, owner, store.AuditQuery{Limit: MaxAuditPage + 1}); err == nil {
		t.Fatal("oversized page accepted")
	}

	r, err := au.Record(ctx, f.ws, owner, total-1)
	if err != nil || r.Seq != total-1 || r.Target != "thing:5" || r.IP != "203.0.113.5" || len(r.Hash) != 32 || len(r.PrevHash) != 32 {
		t.Fatalf("record: %+v %v", r, err)
	}
	for _, seq := range []int64{0, -1, total + 1} {
		if _, err := au.Record(ctx, f.ws, owner, seq); !errors.Is(err, ErrNoSuchRecord) {
			t.Fatalf("record %d: %v", seq, err)
		}
	}
	if _, err := au.Search(ctx, f.ws, mem, store.AuditQuery{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member searching: %v", err)
	}
	if _, err := au.Record(ctx, f.ws, mem, 1); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member reading a record: %v", err)
	}
}

// TestAuditFilterQuery: form values become a store query; bad ones name their field.
func TestAuditFilterQuery(t *testing.T) {
	t.Parallel()
	q, err := AuditFilter{From: "2026-12-01", To: "2026-12-02", Actor: " Ann@Acme.test ", Action: "login.", Outcome: "failure",
		IP: "198.51.100.0/24", Target: "user:1", Text: "x%", Before: "42", Limit: "10"}.Query()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if !q.From.Equal(day) || !q.To.Equal(day.AddDate(0, 0, 2)) || q.ActorEmail != "Ann@Acme.test" || q.ActionPrefix != "login." ||
		q.Outcome != "failure" || q.CIDR != netip.MustParsePrefix("198.51.100.0/24") || q.IP != "" || q.Target != "user:1" ||
		q.Text != "x%" || q.BeforeSeq != 42 || q.Limit != 10 {
		t.Fatalf("query %+v", q)
	}
	if q, err = (AuditFilter{IP: "2001:db8::1", To: "2026-12-01T10:00:00Z"}).Query(); err != nil || q.IP != "2001:db8::1" || q.CIDR.IsValid() ||
		!q.To.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("query %+v %v", q, err)
	}
	for _, c := range []struct {
		f     AuditFilter
		field string
	}{
		{AuditFilter{From: "yesterday"}, "from"},
		{AuditFilter{To: "2026-13-01"}, "to"},
		{AuditFilter{From: "2026-12-02", To: "2026-12-01"}, "to"},
		{AuditFilter{Outcome: "maybe"}, "outcome"},
		{AuditFilter{IP: "300.1.1.1"}, "ip"},
		{AuditFilter{IP: "10.0.0.0/33"}, "ip"},
		{AuditFilter{Before: "abc"}, "before"},
		{AuditFilter{Before: "0"}, "before"},
		{AuditFilter{Limit: "0"}, "limit"},
		{AuditFilter{Limit: "201"}, "limit"},
	} {
		var fe *FieldError
		if _, err := c.f.Query(); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want an error on %s", c.f, err, c.field)
		}
	}
}
