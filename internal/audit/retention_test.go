package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// backend is a real store and a raw connection to the same database, for tampering
// as someone with the database's credentials can.
type backend struct {
	st store.Store
	db *sql.DB
	pg bool
}

// forBackends runs fn on a fresh SQLite file and on a fresh PostgreSQL schema (testpg:
// an unreachable server skips outside CI and fails in CI).
func forBackends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gh.db")
		fn(t, openBackend(t, "sqlite://"+path, "sqlite", path, false))
	})
	t.Run("Postgres", func(t *testing.T) {
		dsn := testpg.DSN(t)
		fn(t, openBackend(t, dsn, "pgx", dsn, true))
	})
}

func openBackend(t *testing.T, dsn, driver, raw string, pg bool) backend {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open(driver, raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return backend{st: st, db: db, pg: pg}
}

// exec runs a statement on the raw connection ('?' placeholders, rebound for
// PostgreSQL).
func (b backend) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if b.pg {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	if _, err := b.db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// dropDeleteGuard removes the trigger that refuses deletes, as a database
// administrator can.
func (b backend) dropDeleteGuard(t *testing.T) {
	t.Helper()
	if b.pg {
		b.exec(t, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_delete")
		return
	}
	b.exec(t, "DROP TRIGGER audit_log_no_delete")
}

type retentionEnv struct {
	env
	exp *Expirer
}

// newRetentionEnv makes a workspace slug in st, writers and an Expirer that works on
// that workspace only (7 days' retention), all on one fake clock.
func newRetentionEnv(t *testing.T, st store.Store, slug string) retentionEnv {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	fc, err := secret.NewFieldCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := env{st: st, ws: testdb.Workspace(t, st, slug), clk: clk, w: NewWriter(clk),
		keys: &KeyStore{Store: st.AuditKeys(), Leases: st.Maintenance(), Cipher: fc, Holder: "test", Clock: clk}}
	return retentionEnv{env: e, exp: &Expirer{Store: singleTenant{st, e.ws.Tenant}, Keys: e.keys, Leases: st.Maintenance(), Holder: "test",
		Retention: 7 * 24 * time.Hour, Writer: e.w, Clock: clk}}
}

func (e retentionEnv) once(t *testing.T, want int64) {
	t.Helper()
	ran, n, err := e.exp.Once(t.Context())
	if err != nil || !ran || n != want {
		t.Fatalf("Once: ran %v, removed %d, %v; want %d removed", ran, n, err, want)
	}
}

func (e retentionEnv) trail(t *testing.T) []store.AuditRecord {
	t.Helper()
	recs, err := e.ws.Audit().ListAudit(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// verified verifies the trail from its start and wants it intact from the cut at
// cutSeq through record last.
func (e retentionEnv) verified(t *testing.T, cutSeq, last int64) Verified {
	t.Helper()
	v, err := ChainOf(e.ws, e.st.AuditKeys()).VerifyThrough(t.Context(), 0, 3)
	if err != nil || v.Last != last || v.Start.Seq != cutSeq || (cutSeq > 0) != (v.Start.Cut != nil) {
		t.Fatalf("verify: %+v, %v; want intact from the cut at %d through %d", v, err, cutSeq, last)
	}
	return v
}

func wantBreak(t *testing.T, what string, err error, seq int64, kind Kind, reason string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != seq || ve.Kind != kind || !strings.Contains(ve.Reason, reason) {
		t.Fatalf("%s: got %v, want a %s break at record %d saying %q", what, err, kind, seq, reason)
	}
}

// TestExpirerExpiresAndChainVerifies: records older than the retention expire under a
// signed cut with a signed checkpoint at it, the expiry is recorded, and the chain
// verifies from the cut (but not from record 1, which is gone); a later run cuts
// again, never the newest record, and checkpoints go on after the cuts.
func TestExpirerExpiresAndChainVerifies(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newRetentionEnv(t, b.st, "acme")
		e.write(t, 10)
		old := e.trail(t)
		e.clk.Advance(10 * 24 * time.Hour)
		e.write(t, 5)
		e.once(t, 10)

		recs := e.trail(t)
		if len(recs) != 6 || recs[0].Seq != 11 || recs[5].Seq != 16 {
			t.Fatalf("after expiry: %d records from %d, want 11 to 16", len(recs), recs[0].Seq)
		}
		signer, err := e.keys.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ev := recs[5]
		if ev.Action != ActionAuditExpired || ev.Details["through_seq"] != "10" || ev.Details["count"] != "10" ||
			ev.Details["key_id"] != signer.KeyID || ev.ActorID != System.UserID {
			t.Fatalf("expiry record: %+v", ev)
		}
		// A signed checkpoint and a signed cut at record 10, with its hash.
		cps, err := e.ws.Checkpoints().ListCheckpoints(t.Context(), 9, 1)
		if err != nil || len(cps) != 1 || cps[0].Seq != 10 || !bytes.Equal(cps[0].Hash, old[9].Hash) {
			t.Fatalf("checkpoint at the cut: %+v %v", cps, err)
		}
		if err := CheckpointOf(e.ws.ID, cps[0]).Verify(signer.Public); err != nil {
			t.Fatalf("checkpoint at the cut: %v", err)
		}
		sc, err := e.ws.AuditCuts().LastCut(t.Context(), math.MaxInt64)
		if err != nil || sc.Seq != 10 || !bytes.Equal(sc.Hash, old[9].Hash) {
			t.Fatalf("cut: %+v %v", sc, err)
		}
		if err := CutOf(e.ws.ID, sc).Verify(signer.Public); err != nil {
			t.Fatalf("cut signature: %v", err)
		}
		v := e.verified(t, 10, 16)
		if v.Count() != 6 || !bytes.Equal(v.Hash, ev.Hash) {
			t.Fatalf("verified %d records to hash %x, want 6 to %x", v.Count(), v.Hash, ev.Hash)
		}
		// Verification that trusts no cut reports the missing records.
		_, _, err = VerifyThrough(t.Context(), e.ws.Audit(), 0, 100)
		wantBreak(t, "verify from record 1", err, 1, Removed, "records 1 to 10 are missing")

		e.once(t, 0) // nothing more is old

		// Everything is old now: all but the newest record go.
		e.clk.Advance(10 * 24 * time.Hour)
		e.once(t, 5)
		recs = e.trail(t)
		if len(recs) != 2 || recs[0].Seq != 16 || recs[1].Action != ActionAuditExpired || recs[1].Details["through_seq"] != "15" {
			t.Fatalf("after the second expiry: %+v", recs)
		}
		e.verified(t, 15, 17)

		// The checkpoint job and the CLI's export go on from the cut.
		c, ok, err := CheckpointNow(t.Context(), signer, e.ws, e.clk.Now())
		if err != nil || !ok || c.Seq != 17 {
			t.Fatalf("CheckpointNow after the cuts: %+v %v %v", c, ok, err)
		}
		v, err = ChainOf(e.ws, e.st.AuditKeys()).VerifyFromCheckpoint(t.Context(), c, 1)
		if err != nil || v.CheckpointExpired || v.Last != 17 {
			t.Fatalf("from the new checkpoint: %+v %v", v, err)
		}
		// The checkpoint at the first cut signs a record that has expired since.
		v, err = ChainOf(e.ws, e.st.AuditKeys()).VerifyFromCheckpoint(t.Context(), CheckpointOf(e.ws.ID, cps[0]), 1)
		if err != nil || !v.CheckpointExpired || v.Last != 17 || v.Start.Seq != 15 {
			t.Fatalf("from an expired checkpoint: %+v %v", v, err)
		}
		// Search still works on what is left.
		found, err := e.ws.Audit().SearchAudit(t.Context(), store.AuditQuery{ActionPrefix: ActionAuditExpired, Limit: 10})
		if err != nil || len(found) != 2 || found[0].Seq != 17 || found[1].Seq != 16 {
			t.Fatalf("search after expiry: %+v %v", found, err)
		}
	})
}

// TestExpirerRetentionZero: without a retention nothing expires, however old.
func TestExpirerRetentionZero(t *testing.T) {
	e := newRetentionEnv(t, testdb.Store(t), "acme")
	e.exp.Retention = 0
	e.write(t, 5)
	e.clk.Advance(1000 * 24 * time.Hour)
	e.write(t, 1)
	if ran, n, err := e.exp.Once(t.Context()); ran || n != 0 || err != nil {
		t.Fatalf("Once with retention 0: ran %v, removed %d, %v", ran, n, err)
	}
	if recs := e.trail(t); len(recs) != 6 {
		t.Fatalf("%d records left, want all 6", len(recs))
	}
	if _, err := e.ws.AuditCuts().LastCut(t.Context(), math.MaxInt64); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a cut with retention 0: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e.exp.Run(ctx) // returns at once
}

// TestExpirerBatches: a backlog larger than a batch is cut in several transactions in
// one run; another instance holding the lease does nothing.
func TestExpirerBatches(t *testing.T) {
	e := newRetentionEnv(t, testdb.Store(t), "acme")
	e.exp.Batch = 3
	e.write(t, 10)
	e.clk.Advance(8 * 24 * time.Hour)
	e.write(t, 1)
	other := *e.exp
	other.Holder = "other"
	e.once(t, 10)
	if ran, _, err := other.Once(t.Context()); ran || err != nil {
		t.Fatalf("another holder of the lease ran: %v", err)
	}
	recs := e.trail(t)
	if recs[0].Seq != 11 {
		t.Fatalf("the trail starts at %d, want 11", recs[0].Seq)
	}
	var throughs []string
	for _, r := range recs {
		if r.Action == ActionAuditExpired {
			throughs = append(throughs, r.Details["through_seq"]+"/"+r.Details["count"])
		}
	}
	if strings.Join(throughs, " ") != "3/3 6/3 9/3 10/1" {
		t.Fatalf("cuts (through/count): %v", throughs)
	}
	e.verified(t, 10, recs[len(recs)-1].Seq)
}

// TestExpirerRefusesBrokenTrail: records are not expired (and nothing is signed) when
// the records to expire do not verify.
func TestExpirerRefusesBrokenTrail(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newRetentionEnv(t, b.st, "acme")
		e.write(t, 6)
		e.clk.Advance(8 * 24 * time.Hour)
		e.write(t, 1)
		b.dropDeleteGuard(t)
		b.exec(t, "DELETE FROM audit_log WHERE tenant_id = ? AND seq = 3", e.ws.ID)
		ran, n, err := e.exp.Once(t.Context())
		if !ran || n != 0 || err == nil || !strings.Contains(err.Error(), "not expiring records of a broken trail") {
			t.Fatalf("Once on a broken trail: ran %v, removed %d, %v", ran, n, err)
		}
		wantBreak(t, "the error", err, 3, Removed, "record 3 is missing")
		if len(e.trail(t)) != 6 {
			t.Fatal("records were removed from a broken trail")
		}
		if cps, _ := e.ws.Checkpoints().ListCheckpoints(t.Context(), 0, 10); len(cps) != 0 {
			t.Fatalf("checkpoints signed over a broken trail: %+v", cps)
		}
		if _, err := e.ws.AuditCuts().LastCut(t.Context(), math.MaxInt64); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a cut of a broken trail: %v", err)
		}
	})
}

// TestExpiryTamperCaught: records deleted behind the gateway's back (the delete
// trigger dropped) are still a break after a legitimate cut, however the deletion is
// dressed up: beyond the cut, up to a signed checkpoint with a cut row forged from
// it, everything after the cut, or without any cut at all.
func TestExpiryTamperCaught(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		// Each case gets its own tenant in one database.
		setup := func(t *testing.T, slug string) retentionEnv {
			e := newRetentionEnv(t, b.st, slug)
			e.write(t, 10)
			e.clk.Advance(8 * 24 * time.Hour)
			e.write(t, 10) // records 11 to 20
			return e
		}
		forgeCut := func(t *testing.T, e retentionEnv, cp store.AuditCheckpoint) {
			b.exec(t, `INSERT INTO audit_cuts (tenant_id, through_seq, hash, time, kid, signature) VALUES (?, ?, ?, ?, ?, ?)`,
				e.ws.ID, cp.Seq, cp.Hash, cp.Time.UnixNano(), cp.KeyID, cp.Signature)
		}
		deleteRange := func(t *testing.T, e retentionEnv, from, to int64) {
			b.exec(t, `DELETE FROM audit_log WHERE tenant_id = ? AND seq BETWEEN ? AND ?`, e.ws.ID, from, to)
		}
		b.dropDeleteGuard(t)

		t.Run("beyond the cut", func(t *testing.T) {
			e := setup(t, "beyond")
			e.once(t, 10)
			deleteRange(t, e, 11, 13)
			_, err := ChainOf(e.ws, b.st.AuditKeys()).VerifyThrough(t.Context(), 0, 5)
			wantBreak(t, "verify", err, 11, Removed, "records 11 to 13 are missing")
		})
		t.Run("up to a checkpoint, with a forged cut", func(t *testing.T) {
			e := setup(t, "forged")
			e.once(t, 10)
			signer, err := e.keys.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := CheckpointNow(t.Context(), signer, e.ws, e.clk.Now()) // a genuine checkpoint of record 21
			if err != nil || c.Seq != 21 {
				t.Fatalf("CheckpointNow: %+v %v", c, err)
			}
			e.write(t, 2)
			deleteRange(t, e, 11, 21)
			forgeCut(t, e, c.Stored()) // its signature is a checkpoint's, not a cut's
			_, err = ChainOf(e.ws, b.st.AuditKeys()).VerifyThrough(t.Context(), 0, 5)
			wantBreak(t, "verify", err, 11, Removed, "the cut row at record 21 vouches for nothing")
		})
		t.Run("everything after the cut", func(t *testing.T) {
			e := setup(t, "emptied")
			e.once(t, 10)
			deleteRange(t, e, 11, 1000)
			_, err := ChainOf(e.ws, b.st.AuditKeys()).VerifyThrough(t.Context(), 0, 5)
			wantBreak(t, "verify", err, 11, Removed, "the trail is empty")
		})
		t.Run("without a cut", func(t *testing.T) {
			e := setup(t, "uncut")
			signer, err := e.keys.Ensure(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := CheckpointNow(t.Context(), signer, e.ws, e.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			e.write(t, 1)
			deleteRange(t, e, 1, c.Seq)
			_, err = ChainOf(e.ws, b.st.AuditKeys()).VerifyThrough(t.Context(), 0, 5)
			wantBreak(t, "verify without a cut row", err, 1, Removed, "no signed expiry cut covers them")
			forgeCut(t, e, c.Stored())
			_, err = ChainOf(e.ws, b.st.AuditKeys()).VerifyThrough(t.Context(), 0, 5)
			wantBreak(t, "verify with a forged cut row", err, 1, Removed, "vouches for nothing")
		})
	})
}

// singleTenant is a store whose tenant list holds one tenant, so that an Expirer
// works on one test's tenant in a shared database.
type singleTenant struct {
	store.Store
	tn store.Tenant
}

func (s singleTenant) Tenants() store.TenantStore { return oneTenantList{s.Store.Tenants(), s.tn} }

type oneTenantList struct {
	store.TenantStore
	tn store.Tenant
}

func (l oneTenantList) ListTenants(context.Context) ([]store.Tenant, error) {
	return []store.Tenant{l.tn}, nil
}
