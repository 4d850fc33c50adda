package caddymodule

import (
	"bytes"
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
	d, err := audit.NewDigester(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(clock.Real{}).WithDigester(d)
	var last store.AuditRecord
	for i := range 7 {
		r, err := w.Write(ctx, ws, store.AuditRecord{Action: audit.ActionLoginSuccess, Outcome: audit.Success,
			ActorEmail: fmt.Sprintf("u%d@example.com", i), IP: "192.0.2.7", Details: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}

	// Pages of every size give the same verdict as one read.
	for _, page := range []int{1, 2, 3, 7, 1000} {
		v, err := verifyChain(ctx, audit.ChainOf(ws, st.AuditKeys()), page)
		if err != nil || v.Last != 7 || hex.EncodeToString(v.Hash) != hex.EncodeToString(last.Hash) {
			t.Errorf("page %d: %d %x %v", page, v.Last, v.Hash, err)
		}
	}
	var out strings.Builder
	if err := runAuditVerify(ctx, &out, st.AuditKeys(), ws, d); err != nil {
		t.Fatal(err)
	}
	if want := "tenant acme: 7 records, chain intact (last hash " + hex.EncodeToString(last.Hash) + ")\n" +
		"tenant acme: personal fields of 7 records match their keyed digests; 0 erased\n"; out.String() != want {
		t.Errorf("intact: %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := runAuditVerify(ctx, &out, st.AuditKeys(), empty, d); err != nil || out.String() != "tenant empty: no audit records yet\n" {
		t.Errorf("empty trail: %v %q", err, out.String())
	}

	erase := func(r *store.AuditRecord) {
		r.ActorEmail, r.IP, r.UserAgent, r.Details, r.PIIErased = "", "", "", nil, true
	}
	// Verdicts on an intact chain: erased records count, and the personal-field check
	// says when it could not run.
	other, _ := audit.NewDigester(bytes.Repeat([]byte{8}, 32))
	for name, c := range map[string]struct {
		tamper func([]store.AuditRecord) []store.AuditRecord
		key    *audit.Digester
		want   string
	}{
		"erased": {func(rs []store.AuditRecord) []store.AuditRecord {
			erase(&rs[2])
			erase(&rs[5])
			return rs
		}, d, "personal fields of 5 records match their keyed digests; 2 erased\n"},
		"no key": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[3].ActorEmail = "someone@else.example" // not seen without the key
			erase(&rs[2])
			return rs
		}, nil, "personal fields NOT checked against their keyed digests in 6 records: no master key here"},
		"other key": {func(rs []store.AuditRecord) []store.AuditRecord { return rs }, other,
			"WARNING: personal fields NOT checked in 7 records: they were digested with key " + d.KeyID() + ", and this master key gives key " + other.KeyID()},
	} {
		out.Reset()
		tws := store.Workspace{Tenant: ws.Tenant, TenantHandle: tamperedHandle{ws.TenantHandle, c.tamper}}
		if err := runAuditVerify(ctx, &out, st.AuditKeys(), tws, c.key); err != nil || !strings.Contains(out.String(), "7 records, chain intact") ||
			!strings.Contains(out.String(), c.want) {
			t.Errorf("%s: %v, output %q lacks %q", name, err, out.String(), c.want)
		}
	}

	for name, c := range map[string]struct {
		tamper func([]store.AuditRecord) []store.AuditRecord
		want   []string
	}{
		"e-mail changed": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[3].ActorEmail = "someone@else.example"
			return rs
		}, []string{"BROKEN at record 4: altered: a personal field was changed", "records 1 to 3 are intact"}},
		"details changed": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[4].Details = map[string]string{"n": "forty"}
			return rs
		}, []string{"BROKEN at record 5: altered: a personal field was changed"}},
		"written after erasure": {func(rs []store.AuditRecord) []store.AuditRecord {
			erase(&rs[1])
			rs[1].IP = "203.0.113.9"
			return rs
		}, []string{"BROKEN at record 2: altered: it is marked erased but has personal fields"}},
		"version downgraded": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[5].Version, rs[5].PIIDigest = 1, nil
			return rs
		}, []string{"BROKEN at record 6: altered: its hash does not match"}},
		"digest replaced": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[2].ActorEmail = "someone@else.example"
			rs[2].PIIDigest = d.Digest(rs[2]) // even with the key: the chain covers the digest
			return rs
		}, []string{"BROKEN at record 3: altered: its hash does not match"}},
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
		err := runAuditVerify(ctx, &out, st.AuditKeys(), tws, d)
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
