package admin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestAuditExport: a CSV with a header row and one row per matching record, newest
// first, across several pages; formula cells defused; the chain status; the export
// audited; members and unknown formats refused.
func TestAuditExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	_, adm := f.user(t, "admin@acme.test", identity.RoleAdmin)
	_, mem := f.user(t, "mem@acme.test", identity.RoleMember)
	n := ExportPage + 3 // more than a page
	for i := range n {
		r := audit.Event("test.event", audit.Success, owner.Actor, audit.Origin{IP: "203.0.113.9", UserAgent: "=cmd|' /C calc'!A0"})
		r.Target = fmt.Sprint("thing:", i)
		if i%2 == 1 {
			r.Outcome = audit.Failure
		}
		if i == 0 {
			r.Target, r.Details = "@SUM(1+1)", map[string]string{"note": "-2+3 <b>"}
		}
		if err := f.svc.Audit.Record(ctx, f.ws, r); err != nil {
			t.Fatal(err)
		}
	}
	head := f.lastRecord(t)

	au := Audit{Service: f.svc}
	var b strings.Builder
	sum, err := au.Export(ctx, f.ws, adm, AuditFilter{Action: "test.", Limit: "3"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != n || sum.Format != "csv" || !sum.Chain.OK() || sum.Chain.Through != head.Seq || sum.Chain.Intact != head.Seq ||
		sum.Chain.Header() != "intact; through="+strconv.FormatInt(head.Seq, 10) {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(b.String(), "\r\n") {
		t.Error("lines do not end in CRLF")
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], AuditColumns) || len(rows) != n+1 {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	for i, row := range rows[1:] {
		if want := strconv.FormatInt(head.Seq-int64(i), 10); row[0] != want {
			t.Fatalf("row %d: seq %s, want %s", i, row[0], want)
		}
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("cell %q starts a formula", cell)
			}
		}
	}
	first := rows[n]
	if first[4] != "test.event" || first[6] != "'@SUM(1+1)" || first[8] != "'=cmd|' /C calc'!A0" || first[11] != `{"note":"-2+3 <b>"}` ||
		first[7] != "203.0.113.9" || first[2] != owner.UserID || first[3] != "owner@acme.test" || len(first[12]) != 64 || len(first[13]) != 64 ||
		!strings.HasSuffix(first[1], "Z") {
		t.Fatalf("first record's row: %q", first)
	}
	if rows[1][0] != strconv.FormatInt(head.Seq, 10) || rows[1][13] != fmt.Sprintf("%x", head.Hash) {
		t.Fatalf("newest row: %q", rows[1])
	}
	// The export is audited, with the filter and the row count.
	rec := f.lastRecord(t)
	if rec.Action != ActionAuditExport || rec.Outcome != audit.Success || rec.ActorID != adm.UserID || rec.Target != "tenant:acme" ||
		rec.Details["rows"] != strconv.Itoa(n) || rec.Details["filter"] != "action=test." || rec.Details["format"] != "csv" ||
		!strings.HasPrefix(rec.Details["chain"], "intact; through=") {
		t.Fatalf("export record: %+v", rec)
	}

	// A filter is respected; the export's own record is not in a later export of
	// "test." records.
	b.Reset()
	sum, err = au.Export(ctx, f.ws, owner, AuditFilter{Action: "test.", Outcome: "failure"}, &b)
	rows, _ = csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || sum.Rows != n/2 || len(rows) != n/2+1 {
		t.Fatalf("filtered: %d rows %v", sum.Rows, err)
	}
	for _, row := range rows[1:] {
		if row[5] != audit.Failure {
			t.Fatalf("filtered row %q", row)
		}
	}
	// Nothing matching: a header row, no chain checked.
	b.Reset()
	sum, err = au.Export(ctx, f.ws, owner, AuditFilter{Action: "nothing."}, &b)
	if err != nil || sum.Rows != 0 || b.String() != strings.Join(AuditColumns, ",")+"\r\n" || sum.Chain.Header() != "empty" {
		t.Fatalf("empty export: %+v %q %v", sum, b.String(), err)
	}
	// Refused: members, bad filters, unknown formats.
	before := f.lastRecord(t).Seq
	if _, err := au.Export(ctx, f.ws, mem, AuditFilter{}, &b); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member: %v", err)
	}
	var fe *FieldError
	if _, err := au.Export(ctx, f.ws, owner, AuditFilter{IP: "nope"}, &b); !errors.As(err, &fe) || fe.Field != "ip" {
		t.Fatalf("bad ip: %v", err)
	}
	if _, err := au.StartExport(ctx, f.ws, owner, AuditFilter{}, "xls"); !errors.As(err, &fe) || fe.Field != "format" || !strings.Contains(fe.Msg, "csv or pdf") {
		t.Fatalf("xls: %v", err)
	}
	if f.lastRecord(t).Seq != before {
		t.Fatal("a refused export was recorded")
	}
}

// brokenTrail lists a trail whose record 3 was altered behind Gatehouse's back.
type brokenTrail struct{ store.AuditStore }

func (b brokenTrail) ListAudit(ctx context.Context, after int64, limit int) ([]store.AuditRecord, error) {
	recs, err := b.AuditStore.ListAudit(ctx, after, limit)
	for i := range recs {
		if recs[i].Seq == 3 {
			recs[i].ActorEmail = "someone@else.example"
		}
	}
	return recs, err
}

type brokenHandle struct{ store.TenantHandle }

func (h brokenHandle) Audit() store.AuditStore { return brokenTrail{h.TenantHandle.Audit()} }

// TestAuditExportChainBroken: the summary names the first broken record at or before
// the newest exported one.
func TestAuditExportChainBroken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	for range 5 {
		if err := f.svc.Audit.Record(ctx, f.ws, audit.Event("test.event", audit.Success, owner.Actor, audit.Origin{})); err != nil {
			t.Fatal(err)
		}
	}
	ws := store.Workspace{Tenant: f.ws.Tenant, TenantHandle: brokenHandle{f.ws.TenantHandle}}
	var b strings.Builder
	sum, err := Audit{Service: f.svc}.Export(ctx, ws, owner, AuditFilter{Action: "test."}, &b)
	if err != nil || sum.Rows != 5 || sum.Chain.OK() || sum.Chain.Break.Seq != 3 || sum.Chain.Break.Kind != audit.Altered || sum.Chain.Intact != 2 ||
		!strings.HasPrefix(sum.Chain.Header(), "broken; at=3; kind=altered; intact=2") || !strings.Contains(sum.Chain.String(), "records 1 to 2 are intact") {
		t.Fatalf("%+v %v", sum, err)
	}
}

// TestAuditExportErasedRow: a record whose personal fields were erased shows
// "(erased)" in their cells, not blanks that read as "none recorded".
func TestAuditExportErasedRow(t *testing.T) {
	r := store.AuditRecord{Seq: 4, ActorID: "us-1", Action: "login.success", Outcome: audit.Success, Target: "user:us-1",
		SessionID: "se-1", Version: audit.V2, PIIErased: true}
	row := csvRow(r)
	for i, want := range map[int]string{2: "us-1", 3: audit.ErasedMark, 4: "login.success", 7: audit.ErasedMark,
		8: audit.ErasedMark, 9: "se-1", 11: audit.ErasedMark} {
		if row[i] != want {
			t.Errorf("cell %d = %q, want %q (row %q)", i, row[i], want, row)
		}
	}
	r.PIIErased, r.ActorEmail, r.IP = false, "ada@example.test", "192.0.2.1"
	if row := csvRow(r); row[3] != "ada@example.test" || row[7] != "192.0.2.1" || row[11] != "{}" {
		t.Errorf("a record not erased: %q", row)
	}
}
