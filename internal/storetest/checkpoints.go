package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var checkpointTests = []test{
	{"AuditKeys", testAuditKeys},
	{"AddLatestList", testCheckpoints},
	{"TenantIsolation", testCheckpointIsolation},
}

// testAuditKeys: keys round-trip, list by creation time then kid, a taken kid is
// ErrConflict. The keys are deployment-wide: only this test's prefix is looked at.
func testAuditKeys(t *testing.T, st store.Store) {
	prefix := "ak-" + randHex(4) + "-"
	base := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
	keys := []store.AuditKey{
		{KID: prefix + "b", PublicKey: randBytes(32), PrivateKey: randBytes(60), SealKeyID: "fk-1", CreatedAt: base},
		{KID: prefix + "a", PublicKey: randBytes(32), PrivateKey: randBytes(60), SealKeyID: "fk-2", CreatedAt: base.Add(time.Hour)},
		{KID: prefix + "c", PublicKey: randBytes(32), PrivateKey: randBytes(60), SealKeyID: "fk-3", CreatedAt: base},
	}
	for _, k := range keys {
		noErr(t, "CreateAuditKey", st.AuditKeys().CreateAuditKey(ctx(t), k))
	}
	dup := keys[0]
	dup.PublicKey = randBytes(32)
	wantErr(t, "CreateAuditKey with a taken kid", st.AuditKeys().CreateAuditKey(ctx(t), dup), store.ErrConflict)
	all, err := st.AuditKeys().ListAuditKeys(ctx(t))
	noErr(t, "ListAuditKeys", err)
	var got []store.AuditKey
	for _, k := range all {
		if strings.HasPrefix(k.KID, prefix) {
			got = append(got, k)
		}
	}
	want := []store.AuditKey{keys[0], keys[2], keys[1]}
	if len(got) != len(want) {
		t.Fatalf("listed %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.KID != w.KID || !bytes.Equal(g.PublicKey, w.PublicKey) || !bytes.Equal(g.PrivateKey, w.PrivateKey) || g.SealKeyID != w.SealKeyID {
			t.Errorf("key %d: got %+v, want %+v", i, g, w)
		}
		sameTime(t, "CreatedAt", g.CreatedAt, w.CreatedAt)
	}
}

func checkpoint(seq int64, at time.Time) store.AuditCheckpoint {
	return store.AuditCheckpoint{Seq: seq, Hash: randBytes(32), Time: at, KeyID: "kid-" + randHex(4), Signature: randBytes(64)}
}

func sameCheckpoint(t *testing.T, what string, got, want store.AuditCheckpoint) {
	t.Helper()
	if got.Seq != want.Seq || !bytes.Equal(got.Hash, want.Hash) || got.KeyID != want.KeyID || !bytes.Equal(got.Signature, want.Signature) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" Time", got.Time, want.Time)
}

// testCheckpoints: none is ErrNotFound; the latest is the highest seq whatever the
// order of adding; a second one at a seq is ErrConflict; List pages by seq.
func testCheckpoints(t *testing.T, st store.Store) {
	cs := st.Tenant(newTenant(t, st).ID).Checkpoints()
	_, err := cs.LatestCheckpoint(ctx(t))
	wantErr(t, "LatestCheckpoint of none", err, store.ErrNotFound)
	base := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	a, b, c := checkpoint(1000, base), checkpoint(2000, base.Add(time.Hour)), checkpoint(1500, base.Add(2*time.Hour))
	for _, x := range []store.AuditCheckpoint{a, b, c} {
		noErr(t, "AddCheckpoint", cs.AddCheckpoint(ctx(t), x))
	}
	wantErr(t, "AddCheckpoint at a taken seq", cs.AddCheckpoint(ctx(t), checkpoint(1500, base)), store.ErrConflict)
	got, err := cs.LatestCheckpoint(ctx(t))
	noErr(t, "LatestCheckpoint", err)
	sameCheckpoint(t, "latest", got, b)
	list, err := cs.ListCheckpoints(ctx(t), 1000, 10)
	noErr(t, "ListCheckpoints", err)
	if len(list) != 2 {
		t.Fatalf("ListCheckpoints after 1000: %d, want 2", len(list))
	}
	sameCheckpoint(t, "list[0]", list[0], c)
	sameCheckpoint(t, "list[1]", list[1], b)
	list, err = cs.ListCheckpoints(ctx(t), 0, 1)
	noErr(t, "ListCheckpoints limit 1", err)
	if len(list) != 1 {
		t.Fatalf("ListCheckpoints limit 1: %d", len(list))
	}
	sameCheckpoint(t, "first", list[0], a)
}

// testCheckpointIsolation: one tenant's checkpoints are invisible to another, and the
// same seq may be used by both.
func testCheckpointIsolation(t *testing.T, st store.Store) {
	one, two := st.Tenant(newTenant(t, st).ID).Checkpoints(), st.Tenant(newTenant(t, st).ID).Checkpoints()
	noErr(t, "AddCheckpoint one", one.AddCheckpoint(ctx(t), checkpoint(5, time.Now())))
	_, err := two.LatestCheckpoint(ctx(t))
	wantErr(t, "LatestCheckpoint of the other tenant", err, store.ErrNotFound)
	noErr(t, "AddCheckpoint two at the same seq", two.AddCheckpoint(ctx(t), checkpoint(5, time.Now())))
	if l, err := two.ListCheckpoints(ctx(t), 0, 10); err != nil || len(l) != 1 {
		t.Errorf("ListCheckpoints two: %v %v", l, err)
	}
}
