package sqlstore

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestAuditErasureOnlyUpdate: with the guard of migration 17 the database still
// refuses every change to an audit row, whoever issues it, except one: erasing the
// personal fields of a version-2 record, nothing else. A version-1 record (its hash
// covers those fields) cannot be "erased"; an erased record cannot be refilled.
func TestAuditErasureOnlyUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h := newTenant(t, s)
		rec := store.AuditRecord{ActorID: "us-1", ActorEmail: "ada@example.test", Action: "login.success", IP: "192.0.2.1",
			UserAgent: "ua", Details: map[string]string{"k": "v"}}
		v2 := rec
		v2.Version, v2.PIIDigest = 2, bytes.Repeat([]byte{9}, 40)
		if _, err := h.Audit().AppendBatch(t.Context(), []store.AuditRecord{rec, v2, v2}, storetest.ChainHash); err != nil {
			t.Fatalf("AppendBatch: %v", err)
		}
		bytea := func(hex string) string {
			if s.dialect == postgresDialect {
				return `'\x` + hex + `'`
			}
			return `X'` + hex + `'`
		}
		erase := `UPDATE audit_log SET actor_email = '', ip = '', user_agent = '', details = '{}', pii_erased = TRUE`
		refused := []string{
			erase + ` WHERE seq = 1`, // version 1
			erase + `, action = 'forged' WHERE seq = 2`,
			erase + `, actor_id = 'us-2' WHERE seq = 2`,
			erase + `, pii_digest = ` + bytea("00") + ` WHERE seq = 2`,
			erase + `, hash = ` + bytea("00") + ` WHERE seq = 2`,
			erase + `, version = 1 WHERE seq = 2`,
			erase + `, seq = 9 WHERE seq = 2`,
			`UPDATE audit_log SET actor_email = '' WHERE seq = 2`,                                              // not marked erased
			`UPDATE audit_log SET pii_erased = TRUE WHERE seq = 2`,                                             // marked, not emptied
			`UPDATE audit_log SET actor_email = 'x@example.test', pii_erased = TRUE WHERE seq = 2`,             // "erased" to another value
			`UPDATE audit_log SET actor_email = '', ip = '', user_agent = '', pii_erased = TRUE WHERE seq = 2`, // details kept
			`UPDATE audit_log SET action = 'forged'`,
			`UPDATE audit_log SET outcome = 'failure' WHERE seq = 1`,
		}
		for _, q := range refused {
			if _, err := s.db.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: got %v, want the append-only refusal", q, err)
			}
		}
		storetest.VerifyChain(t, h, 3) // nothing changed

		if _, err := s.db.ExecContext(t.Context(), erase+` WHERE seq = 2`); err != nil {
			t.Fatalf("erasing a version-2 record's personal fields: %v", err)
		}
		for _, q := range []string{
			`UPDATE audit_log SET actor_email = 'ada@example.test' WHERE seq = 2`, // refilled
			`UPDATE audit_log SET pii_erased = FALSE WHERE seq = 2`,
			erase + ` WHERE seq = 2`, // once is enough
			`DELETE FROM audit_log WHERE seq = 2`,
		} {
			if _, err := s.db.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("after the erasure, %s: got %v, want the append-only refusal", q, err)
			}
		}
		list := storetest.VerifyChain(t, h, 3)
		if !list[1].PIIErased || list[1].ActorEmail != "" || list[2].PIIErased || list[2].ActorEmail == "" || list[0].ActorEmail == "" {
			t.Errorf("after erasing record 2 only: %+v", list)
		}
	})
}

// TestUpgradeToErasablePersonalData builds a trail of version-1 records on a schema
// from before migration 17 (its column list), then opens it with this build: the old
// records read back as version 1, the writer appends version-2 records after them, the
// whole trail verifies (with the digest key too), and erasing a user's personal data
// erases the version-2 records only and keeps the trail verifiable.
func TestUpgradeToErasablePersonalData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		old, err := open(t.Context(), dsn, 15)
		if err != nil {
			t.Fatalf("open at version 15: %v", err)
		}
		h := newTenant(t, old)
		prev := audit.ZeroHash
		for i := range 3 {
			r := store.AuditRecord{Seq: int64(i + 1), Time: time.Unix(1700000000, int64(i)).UTC(), TenantID: h.TenantID(),
				ActorID: "us-1", ActorEmail: "ada@example.test", Action: "login.success", Outcome: "success", IP: "192.0.2.1",
				UserAgent: "ua", Details: map[string]string{"n": fmt.Sprint(i)}, PrevHash: prev}
			r.Hash = audit.Hash(r)
			if _, err := old.db.ExecContext(t.Context(), old.q(`INSERT INTO audit_log (tenant_id, seq, time, actor_id, actor_email,
				action, target, outcome, ip, user_agent, session_id, request_id, details, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?, '', '', ?, ?, ?)`), r.TenantID, r.Seq, r.Time.UnixNano(), r.ActorID, r.ActorEmail,
				r.Action, r.Outcome, r.IP, r.UserAgent, mapArg(r.Details), r.PrevHash, r.Hash); err != nil {
				t.Fatalf("inserting a version-15 audit record: %v", err)
			}
			prev = r.Hash
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := openT(t, dsn)
		th := s.Tenant(h.TenantID())
		d, err := audit.NewDigester(bytes.Repeat([]byte{3}, 32))
		if err != nil {
			t.Fatal(err)
		}
		w := audit.NewWriter(clock.Real{}).WithDigester(d)
		for _, actor := range []string{"us-1", "us-2"} {
			if _, err := w.Write(t.Context(), th, store.AuditRecord{ActorID: actor, ActorEmail: actor + "@example.test",
				Action: "login.success", Outcome: "success", IP: "192.0.2.2", UserAgent: "ua\xff\x00", // cleaned before the digest
				Details: map[string]string{"path": "/x\xc3"}}); err != nil {
				t.Fatal(err)
			}
		}
		verify := func(want audit.PersonalCheck) {
			t.Helper()
			res, err := audit.VerifyTrail(t.Context(), th.Audit(), audit.VerifyOptions{Page: 2, Digester: d})
			if err != nil || res.Records != 5 || res.Personal != want {
				t.Fatalf("verify: %d records, %+v, %v; want 5 intact, %+v", res.Records, res.Personal, err, want)
			}
		}
		verify(audit.PersonalCheck{V1: 3, Matched: 2})
		got, err := th.Audit().ErasePersonal(t.Context(), "us-1")
		if err != nil || got != (store.AuditErasure{Erased: 1, Kept: 3}) {
			t.Fatalf("ErasePersonal = %+v, %v; want 1 erased, 3 kept", got, err)
		}
		verify(audit.PersonalCheck{V1: 3, Matched: 1, Erased: 1})
	})
}
