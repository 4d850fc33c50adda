package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

func TestWriterChainsAndVerifierFindsTampering(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn := store.Tenant{ID: secret.NewID(), Slug: "acme", Name: "Acme", CreatedAt: time.Now()}
	if err := st.Tenants().CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	th := st.Tenant(tn.ID)
	w := NewWriter(clock.Real{})
	var recs []store.AuditRecord
	for i, a := range []string{ActionLoginFailure, ActionLoginSuccess, ActionLogout} {
		r, err := w.Write(ctx, th, store.AuditRecord{Action: a, Outcome: Success, ActorEmail: "a@example.com",
			IP: "192.0.2.1", Details: map[string]string{"n": string(rune('0' + i))}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if n, err := Verify(ctx, th); err != nil || n != 3 {
		t.Fatalf("verify intact chain: %d %v", n, err)
	}
	check := func(rs []store.AuditRecord) error {
		v := NewVerifier()
		for _, r := range rs {
			if err := v.Check(r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(recs); err != nil {
		t.Fatal(err)
	}
	altered := append([]store.AuditRecord(nil), recs...)
	altered[1].Outcome = Failure
	removed := []store.AuditRecord{recs[0], recs[2]}
	reordered := []store.AuditRecord{recs[1], recs[0], recs[2]}
	relinked := append([]store.AuditRecord(nil), recs...)
	relinked[1].Details = map[string]string{"n": "X"}
	relinked[1].Hash = Hash(relinked[1]) // re-hashed, but the next link breaks
	for name, c := range map[string]struct {
		rs  []store.AuditRecord
		seq int64
	}{"altered": {altered, 2}, "removed": {removed, 2}, "reordered": {reordered, 1}, "relinked": {relinked, 3}} {
		err := check(c.rs)
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Seq != c.seq {
			t.Errorf("%s: got %v, want a break at record %d", name, err, c.seq)
		}
	}
}

// chainOf builds an intact in-memory chain of n records.
func chainOf(n int) []store.AuditRecord {
	prev := ZeroHash
	var out []store.AuditRecord
	for i := 1; i <= n; i++ {
		r := store.AuditRecord{Seq: int64(i), TenantID: "t1", Time: time.Unix(int64(1700000000+i), 0).UTC(),
			ActorEmail: "a@example.com", Action: ActionLoginSuccess, Outcome: Success, IP: "192.0.2.1",
			Details: map[string]string{"i": fmt.Sprint(i)}, PrevHash: prev}
		r.Hash = Hash(r)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func firstBreak(rs []store.AuditRecord) (*VerifyError, int64) {
	v := NewVerifier()
	for _, r := range rs {
		if err := v.Check(r); err != nil {
			ve, _ := err.(*VerifyError)
			return ve, 0
		}
	}
	n, _ := v.Last()
	return nil, n
}

// TestVerifierKinds: each kind of tampering, as it looks when the store lists the
// tampered table in sequence order, is named with its kind at the right record.
func TestVerifierKinds(t *testing.T) {
	drop := func(rs []store.AuditRecord, i int) []store.AuditRecord {
		return append(append([]store.AuditRecord(nil), rs[:i]...), rs[i+1:]...)
	}
	cases := map[string]struct {
		tamper func([]store.AuditRecord) []store.AuditRecord
		seq    int64
		kind   Kind
		says   string
	}{
		"field altered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[2].Outcome = Failure
			return rs
		}, 3, Altered, "does not match its contents"},
		"details altered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[3].Details = map[string]string{"i": "x"}
			return rs
		}, 4, Altered, ""},
		"time altered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[0].Time = rs[0].Time.Add(time.Second)
			return rs
		}, 1, Altered, ""},
		"middle removed": {func(rs []store.AuditRecord) []store.AuditRecord { return drop(rs, 2) }, 3, Removed, "record 3 is missing"},
		"first removed":  {func(rs []store.AuditRecord) []store.AuditRecord { return rs[1:] }, 1, Removed, "record 1 is missing"},
		"several removed": {func(rs []store.AuditRecord) []store.AuditRecord {
			return append(append([]store.AuditRecord(nil), rs[:1]...), rs[4:]...)
		}, 2, Removed, "records 2 to 4 are missing"},
		"removed and renumbered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs = drop(rs, 1)
			for i := 1; i < len(rs); i++ {
				rs[i].Seq--
			}
			return rs
		}, 2, Reordered, "it is record 3"},
		"seq swapped": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[1].Seq, rs[3].Seq = rs[3].Seq, rs[1].Seq
			rs[1], rs[3] = rs[3], rs[1] // listed in sequence order
			return rs
		}, 2, Reordered, "it is record 4"},
		"out of order": {func(rs []store.AuditRecord) []store.AuditRecord {
			return append(append([]store.AuditRecord(nil), rs[:3]...), rs[1])
		}, 2, Reordered, "comes after record 3"},
		"forged appended": {func(rs []store.AuditRecord) []store.AuditRecord {
			f := rs[len(rs)-1]
			f.Seq++
			f.PrevHash, f.Hash = make([]byte, 32), make([]byte, 32)
			return append(rs, f)
		}, 7, Inserted, "forged"},
		"forged and re-hashed in the middle": {func(rs []store.AuditRecord) []store.AuditRecord {
			f := store.AuditRecord{Seq: 3, TenantID: "t1", Action: ActionLogout, PrevHash: make([]byte, 32)}
			f.Hash = Hash(f)
			out := append(append(append([]store.AuditRecord(nil), rs[:2]...), f), rs[2:]...)
			for i := 3; i < len(out); i++ {
				out[i].Seq++
			}
			return out
		}, 3, Inserted, "inserted here"},
		"prev hash altered": {func(rs []store.AuditRecord) []store.AuditRecord {
			rs[4].PrevHash = make([]byte, 32)
			return rs
		}, 5, Inserted, ""},
	}
	for name, c := range cases {
		ve, _ := firstBreak(c.tamper(chainOf(6)))
		if ve == nil || ve.Seq != c.seq || ve.Kind != c.kind || !strings.Contains(ve.Reason, c.says) {
			t.Errorf("%s: got %v, want %s at record %d saying %q", name, ve, c.kind, c.seq, c.says)
		}
	}
	if ve, n := firstBreak(chainOf(6)); ve != nil || n != 6 {
		t.Errorf("intact chain: %v, last %d", ve, n)
	}
	if n, h := NewVerifier().Last(); n != 0 || !bytes.Equal(h, ZeroHash) {
		t.Errorf("empty verifier: Last() = %d %x", n, h)
	}
	ve, _ := firstBreak(append(chainOf(3), chainOf(6)[4]))
	if ve == nil || ve.Kind != Removed || ve.Error() != "audit record 4: removed: record 4 is missing (the chain goes from record 3 to record 5)" {
		t.Errorf("Error() = %v", ve)
	}
}
