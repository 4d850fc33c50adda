package audit

import (
	"context"
	"errors"
	"path/filepath"
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
