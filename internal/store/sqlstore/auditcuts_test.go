package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestAuditDeleteOnlyUnderCut checks, with statements issued straight to the database
// as someone with its credentials could, that an audit row can be deleted only under
// an expiry cut of its own tenant, and that the cuts themselves are append-only.
func TestAuditDeleteOnlyUnderCut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		one, two := newTenant(t, s), newTenant(t, s)
		var recs []store.AuditRecord
		for range 6 {
			r, err := one.Audit().Append(t.Context(), store.AuditRecord{Action: "a"}, storetest.ChainHash)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
			if _, err := two.Audit().Append(t.Context(), store.AuditRecord{Action: "a"}, storetest.ChainHash); err != nil {
				t.Fatal(err)
			}
		}
		refused := func(what, q string, args ...any) {
			t.Helper()
			_, err := s.db.ExecContext(t.Context(), s.q(q), args...)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: got %v, want the append-only refusal", what, err)
			}
		}
		del := `DELETE FROM audit_log WHERE tenant_id = ? AND seq = ?`
		refused("delete without a cut", del, one.TenantID(), 1)

		if _, err := one.AuditCuts().ExpireAudit(t.Context(), store.AuditCut{Seq: 3, Hash: recs[2].Hash, Time: time.Now(),
			KeyID: "k", Signature: []byte{1}}); err != nil {
			t.Fatalf("ExpireAudit through 3: %v", err)
		}
		refused("delete beyond the cut", del, one.TenantID(), 4)
		refused("delete of another tenant's record under the seq of the cut", del, two.TenantID(), 2)
		refused("delete of every row", `DELETE FROM audit_log`)

		// Under a cut (inserted first, in the same transaction) a delete passes; a row
		// beyond it in that transaction still does not.
		tx, err := s.db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(t.Context(), s.q(`INSERT INTO audit_cuts (tenant_id, through_seq, hash, time, kid, signature)
			VALUES (?, ?, ?, ?, ?, ?)`), one.TenantID(), 5, recs[4].Hash, time.Now().UnixNano(), "k", []byte{1}); err != nil {
			t.Fatalf("inserting a cut: %v", err)
		}
		if _, err := tx.ExecContext(t.Context(), s.q(`DELETE FROM audit_log WHERE tenant_id = ? AND seq <= ?`), one.TenantID(), 5); err != nil {
			t.Fatalf("delete under the cut: %v", err)
		}
		if _, err := tx.ExecContext(t.Context(), s.q(del), one.TenantID(), 6); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("delete beyond the cut in its transaction: got %v, want the append-only refusal", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			h    store.TenantHandle
			want int
		}{{one, 3}, {two, 6}} {
			if recs, err := c.h.Audit().ListAudit(t.Context(), 0, 10); err != nil || len(recs) != c.want {
				t.Errorf("tenant %s: %d records (%v), want %d", c.h.TenantID(), len(recs), err, c.want)
			}
		}

		stmts := []string{"UPDATE audit_cuts SET through_seq = 6", "DELETE FROM audit_cuts"}
		if s.dialect == postgresDialect {
			stmts = append(stmts, "TRUNCATE audit_cuts")
		}
		for _, q := range stmts {
			refused(q, q)
		}
	})
}
