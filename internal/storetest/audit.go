package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var auditTests = []test{
	{"SequenceAndChain", testAuditChain},
	{"Paging", testAuditPaging},
	{"ConcurrentAppends", testAuditConcurrent},
	{"BatchAppends", testAuditBatch},
	{"UnstorableText", testAuditUnstorableText},
	{"Search", testAuditSearch},
	{"SearchPaging", testAuditSearchPaging},
	{"Versions", testAuditVersions},
	{"ErasePersonal", testAuditErase},
}

// VerifyChain reads a tenant's whole audit trail and checks that it is 1..n without
// gaps, that each record links to the previous one, and that each hash matches the
// record as stored. Backend tests use it after their own concurrency tests.
func VerifyChain(t *testing.T, h store.TenantHandle, wantLen int) []store.AuditRecord {
	t.Helper()
	var all []store.AuditRecord
	for after := int64(0); ; {
		page, err := h.Audit().ListAudit(t.Context(), after, 37)
		noErr(t, "ListAudit", err)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	prev := make([]byte, 32)
	for i, r := range all {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: gap, duplicate or reorder", i+1, r.Seq)
		}
		if r.TenantID != h.TenantID() {
			t.Fatalf("record %d belongs to tenant %q, want %q", r.Seq, r.TenantID, h.TenantID())
		}
		if !bytes.Equal(r.PrevHash, prev) {
			t.Fatalf("record %d: PrevHash does not match the previous record's Hash (fork)", r.Seq)
		}
		if !bytes.Equal(r.Hash, ChainHash(r)) {
			t.Fatalf("record %d: Hash does not match the stored record (a field did not round-trip)", r.Seq)
		}
		prev = r.Hash
	}
	if len(all) != wantLen {
		t.Fatalf("chain has %d records, want %d", len(all), wantLen)
	}
	return all
}

func auditRecord(i int) store.AuditRecord {
	r := store.AuditRecord{
		Time:       base.Add(time.Duration(i) * time.Millisecond),
		TenantID:   "some-other-tenant", // ignored: the handle's tenant is used
		ActorID:    "us-1",
		ActorEmail: "ada@example.test",
		Action:     "login.success",
		Target:     fmt.Sprintf("user:%d", i),
		Outcome:    "success",
		IP:         "198.51.100.7",
		UserAgent:  "storetest",
		SessionID:  "se-1",
		RequestID:  fmt.Sprintf("req-%d", i),
	}
	if i%2 == 0 { // every other record has details, to cover the empty case too
		r.Details = map[string]string{"method": "pwd", "n": fmt.Sprint(i), "quote\"": "line\nbreak"}
	}
	return r
}

func testAuditChain(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	const n = 5
	var appended []store.AuditRecord
	for i := range n {
		r, err := h.Audit().Append(ctx(t), auditRecord(i), ChainHash)
		noErr(t, "Append", err)
		if r.Seq != int64(i+1) {
			t.Fatalf("Append %d returned seq %d", i+1, r.Seq)
		}
		appended = append(appended, r)
	}
	stored := VerifyChain(t, h, n)
	for i, r := range stored {
		a := appended[i]
		if !bytes.Equal(r.Hash, a.Hash) || !bytes.Equal(r.PrevHash, a.PrevHash) || r.TenantID != a.TenantID ||
			r.Action != a.Action || r.Target != a.Target || r.RequestID != a.RequestID || !maps.Equal(r.Details, a.Details) {
			t.Errorf("record %d read back as %+v, Append returned %+v", r.Seq, r, a)
		}
		sameTime(t, fmt.Sprintf("record %d Time", r.Seq), r.Time, auditRecord(i).Time)
	}
}

func testAuditPaging(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	for i := range 7 {
		_, err := h.Audit().Append(ctx(t), auditRecord(i), ChainHash)
		noErr(t, "Append", err)
	}
	cases := []struct {
		after    int64
		limit    int
		from, to int64 // expected seq range, inclusive; from > to: none
	}{
		{0, 3, 1, 3}, {3, 3, 4, 6}, {6, 3, 7, 7}, {7, 3, 1, 0}, {2, 100, 3, 7}, {0, 1, 1, 1},
	}
	for _, c := range cases {
		page, err := h.Audit().ListAudit(ctx(t), c.after, c.limit)
		noErr(t, "ListAudit", err)
		var got []int64
		for _, r := range page {
			got = append(got, r.Seq)
		}
		var want []int64
		for s := c.from; s <= c.to; s++ {
			want = append(want, s)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ListAudit(after %d, limit %d) = seqs %v, want %v", c.after, c.limit, got, want)
		}
	}
}

// testAuditConcurrent appends from many goroutines at once: the chain must come out
// 1..n with every link intact, however the appends interleave.
func testAuditConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	const goroutines, each = 50, 2
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if _, err := h.Audit().Append(t.Context(), auditRecord(g*each+i), ChainHash); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	VerifyChain(t, h, goroutines*each)
}

// testAuditBatch appends batches (the group commit) between single appends and from
// several goroutines at once: every batch lands whole and in its order, the chain
// runs on across batches, and a failing batch stores nothing.
func testAuditBatch(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	_, err := h.Audit().Append(ctx(t), auditRecord(0), ChainHash)
	noErr(t, "Append", err)
	batch := []store.AuditRecord{auditRecord(1), auditRecord(2), auditRecord(3)}
	out, err := h.Audit().AppendBatch(ctx(t), batch, ChainHash)
	noErr(t, "AppendBatch", err)
	if len(out) != 3 || out[0].Seq != 2 || out[2].Seq != 4 || !bytes.Equal(out[1].PrevHash, out[0].Hash) {
		t.Fatalf("AppendBatch returned %d records, seqs %d..%d; want 3 records 2..4 linked", len(out), out[0].Seq, out[len(out)-1].Seq)
	}
	if out, err := h.Audit().AppendBatch(ctx(t), nil, ChainHash); err != nil || len(out) != 0 {
		t.Fatalf("AppendBatch(nil) = %d records, %v; want none and no error", len(out), err)
	}
	calls := 0
	_, err = h.Audit().AppendBatch(ctx(t), []store.AuditRecord{auditRecord(4), auditRecord(5)}, func(r store.AuditRecord) []byte {
		if calls++; calls == 2 {
			return nil // the second insert violates NOT NULL: the whole batch must roll back
		}
		return ChainHash(r)
	})
	if err == nil {
		t.Fatal("AppendBatch with a failing second record succeeded")
	}
	all := VerifyChain(t, h, 4) // the half-done batch left nothing behind
	for i, r := range all {
		if r.RequestID != auditRecord(i).RequestID {
			t.Fatalf("record %d is %q, want %q: a batch was stored out of order", r.Seq, r.RequestID, auditRecord(i).RequestID)
		}
	}
	const goroutines, batches, size = 8, 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*batches)
	for g := range goroutines {
		wg.Go(func() {
			for b := range batches {
				rs := make([]store.AuditRecord, size)
				for i := range rs {
					rs[i] = auditRecord(100 + (g*batches+b)*size + i)
				}
				if _, err := h.Audit().AppendBatch(t.Context(), rs, ChainHash); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent AppendBatch: %v", err)
	}
	big := make([]store.AuditRecord, 450) // more than one INSERT statement's worth
	for i := range big {
		big[i] = auditRecord(10000 + i)
	}
	_, err = h.Audit().AppendBatch(ctx(t), big, ChainHash)
	noErr(t, "AppendBatch of 450", err)
	all = VerifyChain(t, h, 4+goroutines*batches*size+len(big))
	if tail := all[len(all)-len(big):]; tail[0].RequestID != "req-10000" || tail[449].RequestID != "req-10449" {
		t.Fatalf("the big batch is stored as %s..%s", tail[0].RequestID, tail[449].RequestID)
	}
	all = all[:len(all)-len(big)]
	// Each batch is contiguous: its records follow one another in the chain.
	for i := 4; i < len(all); i += size {
		first := all[i].RequestID
		var n int
		fmt.Sscanf(first, "req-%d", &n)
		for j := range size {
			if all[i+j].RequestID != fmt.Sprintf("req-%d", n+j) {
				t.Fatalf("record %d is %q, want %q: batches interleaved", all[i+j].Seq, all[i+j].RequestID, fmt.Sprintf("req-%d", n+j))
			}
		}
	}
}

// testAuditUnstorableText appends request data a client controls: invalid UTF-8 and
// NUL bytes must not lose the record, and whatever the backend stores must verify.
func testAuditUnstorableText(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	r := auditRecord(0)
	r.UserAgent = "bad\xff\xfe utf-8 and a \x00 byte"
	r.Details = map[string]string{"path": "/x\xc3", "nul\x00key": "v"}
	_, err := h.Audit().Append(ctx(t), r, ChainHash)
	noErr(t, "Append with invalid UTF-8", err)
	VerifyChain(t, h, 1)
}
