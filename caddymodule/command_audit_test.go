package caddymodule

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// tamperedHandle lists its audit trail through tamper, as a database changed behind
// Gatehouse's back would.
type tamperedHandle struct {
	store.TenantHandle
	tamper func([]store.AuditRecord) []store.AuditRecord
}

func (h tamperedHandle) Audit() store.AuditStore {
	return tamperedAudit{h.TenantHandle.Audit(), h.tamper}
}

type tamperedAudit struct {
	store.AuditStore
	tamper func([]store.AuditRecord) []store.AuditRecord
}

// ListAudit reads the whole trail, tampers with it and pages through the result.
func (a tamperedAudit) ListAudit(ctx context.Context, after int64, limit int) ([]store.AuditRecord, error) {
	all, err := a.AuditStore.ListAudit(ctx, 0, 1<<20)
	if err != nil {
		return nil, err
	}
	var out []store.AuditRecord
	for _, r := range a.tamper(all) {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestAuditVerifyCommand(t *testing.T) {
	ctx := t.Context()
	st := testdb.Store(t)
	ws := testdb.Workspace(t, st, "acme")
	empty := testdb.Workspace(t, st, "empty")
	w := audit.NewWriter(clock.Real{})
	var last store.AuditRecord
	for i := range 7 {
		r, err := w.Write(ctx, ws, store.AuditRecord{Action: audit.ActionLoginSuccess, Outcome: audit.Success,
			ActorEmail: fmt.Sprintf("u%d@example.com", i), IP: "192.0.2.7"})
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}

	// Pages of every size give the same verdict as one read.
	for _, page := range []int{1, 2, 3, 7, 1000} {
		n, h, err := verifyChain(ctx, ws.Audit(), page)
		if err != nil || n != 7 || hex.EncodeToString(h) != hex.EncodeToString(last.Hash) {
			t.Errorf("page %d: %d %x %v", page, n, h, err)
		}
	}
	var out strings.Builder
	if err := runAuditVerify(ctx, &out, ws); err != nil {
		t.Fatal(err)
	}
	if want := "tenant acme: 7 records, chain intact (last hash " + hex.EncodeToString(last.Hash) + ")\n"; out.String() != want {
		t.Errorf("intact: %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := runAuditVerify(ctx, &out, empty); err != nil || out.String() != "tenant empty: no audit records yet\n" {
		t.Errorf("empty trail: %v %q", err, out.String())
	}

	for name, c := range map[string]struct {
		tamper func([]store.AuditRecord) []store.AuditRecord
		want   []string
	}{
		"altered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[3].ActorEmail = "someone@else.example"
			return rs
		}, []string{"BROKEN at record 4: altered:", "records 1 to 3 are intact"}},
		"removed": {func(rs []store.AuditRecord) []store.AuditRecord {
			return append(rs[:4:4], rs[5:]...)
		}, []string{"BROKEN at record 5: removed: record 5 is missing", "records 1 to 4 are intact"}},
		"swapped": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[1].Seq, rs[2].Seq = 3, 2
			rs[1], rs[2] = rs[2], rs[1]
			return rs
		}, []string{"BROKEN at record 2: reordered: it is record 3", "record 1 is intact (its hash: "}},
		"first altered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[0].Outcome = audit.Failure
			return rs
		}, []string{"BROKEN at record 1: altered:", "no record before it is intact"}},
	} {
		out.Reset()
		tws := store.Workspace{Tenant: ws.Tenant, TenantHandle: tamperedHandle{ws.TenantHandle, c.tamper}}
		err := runAuditVerify(ctx, &out, tws)
		if !errors.Is(err, errChainBroken) {
			t.Errorf("%s: error %v", name, err)
		}
		for _, s := range c.want {
			if !strings.Contains(out.String(), "tenant acme: audit chain ") || !strings.Contains(out.String(), s) {
				t.Errorf("%s: output %q lacks %q", name, out.String(), s)
			}
		}
	}
}
