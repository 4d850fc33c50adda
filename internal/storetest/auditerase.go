package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// v2Record is auditRecord(i) as a version-2 record (the digest is opaque to the store).
func v2Record(i int, actor, target string) store.AuditRecord {
	r := auditRecord(i)
	r.ActorID, r.Target = actor, target
	r.Version, r.PIIDigest = 2, bytes.Repeat([]byte{byte(i + 1)}, 40)
	r.Details = map[string]string{"email": "ada@example.test", "n": fmt.Sprint(i)}
	return r
}

// testAuditVersions: the version and the digest round-trip; a record appended
// without a version is stored as version 1 with no digest, and nothing is appended
// erased.
func testAuditVersions(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	v1 := auditRecord(0)
	v1.PIIErased = true // ignored: a record is not born erased
	a, err := h.Audit().Append(ctx(t), v1, ChainHash)
	noErr(t, "Append version 0", err)
	b, err := h.Audit().Append(ctx(t), v2Record(1, "us-1", ""), ChainHash)
	noErr(t, "Append version 2", err)
	stored := VerifyChain(t, h, 2)
	for i, want := range []store.AuditRecord{a, b} {
		got := stored[i]
		if got.Version != want.Version || !bytes.Equal(got.PIIDigest, want.PIIDigest) || got.PIIErased {
			t.Errorf("record %d read back as version %d digest %x erased %v; Append returned version %d digest %x",
				got.Seq, got.Version, got.PIIDigest, got.PIIErased, want.Version, want.PIIDigest)
		}
	}
	if a.Version != 1 || a.PIIDigest != nil || a.PIIErased {
		t.Errorf("a record appended without a version: version %d, digest %x, erased %v; want version 1, no digest, not erased",
			a.Version, a.PIIDigest, a.PIIErased)
	}
	if b.Version != 2 || len(b.PIIDigest) != 40 {
		t.Errorf("version-2 record stored as version %d with a %d-byte digest", b.Version, len(b.PIIDigest))
	}
}

// testAuditErase: ErasePersonal empties exactly the personal fields of the user's
// version-2 records (as actor or as target) in this tenant and changes nothing else;
// version-1 records are kept and counted; a second erasure finds nothing to do.
func testAuditErase(t *testing.T, st store.Store) {
	h, other := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	v1 := auditRecord(0) // version 1, actor us-1
	recs := []store.AuditRecord{
		v1,
		v2Record(1, "us-1", "role:admin"), // the user acted
		v2Record(2, "us-0", "user:us-1"),  // an admin acted on the user
		v2Record(3, "us-2", "user:us-2"),  // someone else
		v2Record(4, "us-2", "user:us-10"), // a user whose id starts alike
	}
	_, err := h.Audit().AppendBatch(ctx(t), recs, ChainHash)
	noErr(t, "AppendBatch", err)
	_, err = other.Audit().Append(ctx(t), v2Record(5, "us-1", "user:us-1"), ChainHash)
	noErr(t, "Append in the other tenant", err)
	before := VerifyChain(t, h, len(recs))

	res, err := h.Audit().ErasePersonal(ctx(t), "us-1")
	noErr(t, "ErasePersonal", err)
	if res != (store.AuditErasure{Erased: 2, Kept: 1}) {
		t.Fatalf("ErasePersonal = %+v, want 2 erased, 1 version-1 record kept", res)
	}
	after := VerifyChain(t, h, len(recs)) // the chain still verifies
	for i, got := range after {
		want := before[i]
		if i == 1 || i == 2 {
			if !got.PIIErased || got.ActorEmail != "" || got.IP != "" || got.UserAgent != "" || got.Details != nil {
				t.Errorf("record %d after erasure: erased %v, e-mail %q, IP %q, user agent %q, details %v; want erased and empty",
					got.Seq, got.PIIErased, got.ActorEmail, got.IP, got.UserAgent, got.Details)
			}
			want.ActorEmail, want.IP, want.UserAgent, want.Details, want.PIIErased = "", "", "", nil, true
		}
		sameRecord(t, fmt.Sprintf("record %d after erasing us-1", got.Seq), got, want)
	}
	list, err := other.Audit().ListAudit(ctx(t), 0, 10)
	noErr(t, "ListAudit in the other tenant", err)
	if len(list) != 1 || list[0].PIIErased || list[0].ActorEmail == "" {
		t.Errorf("the other tenant's record of the same user was erased: %+v", list)
	}

	res, err = h.Audit().ErasePersonal(ctx(t), "us-1")
	noErr(t, "ErasePersonal again", err)
	if res != (store.AuditErasure{Erased: 0, Kept: 1}) {
		t.Errorf("second ErasePersonal = %+v, want nothing erased, 1 kept", res)
	}
	if _, err := h.Audit().ErasePersonal(ctx(t), ""); err == nil {
		t.Error("ErasePersonal of the empty user id (every system record) succeeded")
	}
	VerifyChain(t, h, len(recs))
}

// sameRecord compares every field of two records.
func sameRecord(t *testing.T, what string, got, want store.AuditRecord) {
	t.Helper()
	if got.Seq != want.Seq || !got.Time.Equal(want.Time) || got.TenantID != want.TenantID || got.ActorID != want.ActorID ||
		got.ActorEmail != want.ActorEmail || got.Action != want.Action || got.Target != want.Target || got.Outcome != want.Outcome ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || got.SessionID != want.SessionID || got.RequestID != want.RequestID ||
		!maps.Equal(got.Details, want.Details) || !bytes.Equal(got.PrevHash, want.PrevHash) || !bytes.Equal(got.Hash, want.Hash) ||
		got.Version != want.Version || !bytes.Equal(got.PIIDigest, want.PIIDigest) || got.PIIErased != want.PIIErased {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
