package storetest

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var auditCutTests = []test{
	{"ExpireUnderCut", testAuditExpire},
	{"RefusedCuts", testAuditExpireRefused},
	{"TenantIsolation", testAuditExpireIsolation},
}

// appendN appends n records (auditRecord(0..n-1)) to h's trail and returns them.
func appendN(t *testing.T, h store.TenantHandle, n int) []store.AuditRecord {
	t.Helper()
	var out []store.AuditRecord
	for i := range n {
		r, err := h.Audit().Append(ctx(t), auditRecord(i), ChainHash)
		noErr(t, "Append", err)
		out = append(out, r)
	}
	return out
}

// cutAt is a cut of the record r (the signature is opaque to the store).
func cutAt(r store.AuditRecord, at time.Time) store.AuditCut {
	return store.AuditCut{Seq: r.Seq, Hash: r.Hash, Time: at, KeyID: "kid-" + randHex(4), Signature: randBytes(64)}
}

// seqs lists the sequence numbers of h's whole trail.
func seqs(t *testing.T, h store.TenantHandle) []int64 {
	t.Helper()
	recs, err := h.Audit().ListAudit(ctx(t), 0, 1000)
	noErr(t, "ListAudit", err)
	var out []int64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func wantSeqs(t *testing.T, what string, got []int64, from, to int64) {
	t.Helper()
	var want []int64
	for s := from; s <= to; s++ {
		want = append(want, s)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: seqs %v, want %v", what, got, want)
	}
}

// testAuditExpire: a cut deletes exactly the records up to it and is kept; a later
// cut goes further; LastCut finds the highest cut at or below a seq; the chain runs
// on after the expired records (appends, listing and search are unaffected).
func testAuditExpire(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	recs := appendN(t, h, 10)
	_, err := h.AuditCuts().LastCut(ctx(t), math.MaxInt64)
	wantErr(t, "LastCut of none", err, store.ErrNotFound)

	at := time.Date(2032, 2, 3, 4, 5, 6, 7, time.UTC)
	first := cutAt(recs[3], at)
	n, err := h.AuditCuts().ExpireAudit(ctx(t), first)
	noErr(t, "ExpireAudit through 4", err)
	if n != 4 {
		t.Fatalf("ExpireAudit through 4 deleted %d records, want 4", n)
	}
	wantSeqs(t, "after the cut at 4", seqs(t, h), 5, 10)
	got, err := h.AuditCuts().LastCut(ctx(t), math.MaxInt64)
	noErr(t, "LastCut", err)
	if got.Seq != 4 || !bytes.Equal(got.Hash, first.Hash) || got.KeyID != first.KeyID || !bytes.Equal(got.Signature, first.Signature) {
		t.Fatalf("LastCut = %+v, want %+v", got, first)
	}
	sameTime(t, "cut Time", got.Time, at)

	second := cutAt(recs[6], at.Add(time.Hour))
	n, err = h.AuditCuts().ExpireAudit(ctx(t), second)
	noErr(t, "ExpireAudit through 7", err)
	if n != 3 {
		t.Fatalf("ExpireAudit through 7 deleted %d records, want 3", n)
	}
	wantSeqs(t, "after the cut at 7", seqs(t, h), 8, 10)
	for _, c := range []struct {
		atMost, want int64
	}{{math.MaxInt64, 7}, {7, 7}, {6, 4}, {4, 4}} {
		got, err := h.AuditCuts().LastCut(ctx(t), c.atMost)
		noErr(t, "LastCut", err)
		if got.Seq != c.want {
			t.Errorf("LastCut(%d) = cut at %d, want %d", c.atMost, got.Seq, c.want)
		}
	}
	_, err = h.AuditCuts().LastCut(ctx(t), 3)
	wantErr(t, "LastCut below every cut", err, store.ErrNotFound)

	// The chain runs on from the newest record, which no cut removes.
	r, err := h.Audit().Append(ctx(t), auditRecord(10), ChainHash)
	noErr(t, "Append after the cuts", err)
	if r.Seq != 11 || !bytes.Equal(r.PrevHash, recs[9].Hash) {
		t.Fatalf("Append after the cuts: seq %d, linked %v; want 11 linked to record 10", r.Seq, bytes.Equal(r.PrevHash, recs[9].Hash))
	}
	found, err := h.Audit().SearchAudit(ctx(t), store.AuditQuery{Limit: 100})
	noErr(t, "SearchAudit", err)
	if len(found) != 4 || found[0].Seq != 11 || found[3].Seq != 8 {
		t.Fatalf("SearchAudit after the cuts: %d records, want 11 down to 8", len(found))
	}
}

// testAuditExpireRefused: a cut whose hash is not the record's, a cut at the newest
// record, at a record that is not there, or twice at one record is refused and
// deletes nothing.
func testAuditExpireRefused(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	recs := appendN(t, h, 5)
	at := time.Now()

	forged := cutAt(recs[2], at)
	forged.Hash = randBytes(32)
	_, err := h.AuditCuts().ExpireAudit(ctx(t), forged)
	wantErr(t, "ExpireAudit with another hash", err, store.ErrConflict)
	_, err = h.AuditCuts().ExpireAudit(ctx(t), cutAt(recs[4], at))
	wantErr(t, "ExpireAudit of the newest record", err, store.ErrConflict)
	_, err = h.AuditCuts().ExpireAudit(ctx(t), store.AuditCut{Seq: 42, Hash: randBytes(32), Time: at, KeyID: "k", Signature: randBytes(64)})
	wantErr(t, "ExpireAudit beyond the trail", err, store.ErrNotFound)
	wantSeqs(t, "after refused cuts", seqs(t, h), 1, 5)
	_, err = h.AuditCuts().LastCut(ctx(t), math.MaxInt64)
	wantErr(t, "LastCut after refused cuts", err, store.ErrNotFound)

	_, err = h.AuditCuts().ExpireAudit(ctx(t), cutAt(recs[1], at))
	noErr(t, "ExpireAudit through 2", err)
	_, err = h.AuditCuts().ExpireAudit(ctx(t), cutAt(recs[1], at))
	wantErr(t, "ExpireAudit through 2 again", err, store.ErrNotFound)
	_, err = h.AuditCuts().ExpireAudit(ctx(t), cutAt(recs[0], at))
	wantErr(t, "ExpireAudit under an older cut", err, store.ErrNotFound)
	wantSeqs(t, "after the cut at 2", seqs(t, h), 3, 5)
}

// testAuditExpireIsolation: one tenant's cut removes nothing of another's trail,
// which has records with the same sequence numbers, and is invisible to it.
func testAuditExpireIsolation(t *testing.T, st store.Store) {
	one, two := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	recs := appendN(t, one, 4)
	other := appendN(t, two, 4)
	_, err := two.AuditCuts().ExpireAudit(ctx(t), cutAt(recs[2], time.Now()))
	wantErr(t, "ExpireAudit with another tenant's hash", err, store.ErrConflict)
	_, err = one.AuditCuts().ExpireAudit(ctx(t), cutAt(recs[2], time.Now()))
	noErr(t, "ExpireAudit", err)
	wantSeqs(t, "tenant one", seqs(t, one), 4, 4)
	wantSeqs(t, "tenant two", seqs(t, two), 1, 4)
	_, err = two.AuditCuts().LastCut(ctx(t), math.MaxInt64)
	wantErr(t, "LastCut of the other tenant", err, store.ErrNotFound)
	// The same seq may be cut in both.
	_, err = two.AuditCuts().ExpireAudit(ctx(t), cutAt(other[2], time.Now()))
	noErr(t, "ExpireAudit in the other tenant at the same seq", err)
	wantSeqs(t, "tenant two after its own cut", seqs(t, two), 4, 4)
}
