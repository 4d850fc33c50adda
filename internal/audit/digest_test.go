package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

func testDigester(t *testing.T, b byte) *Digester {
	t.Helper()
	d, err := NewDigester(bytes.Repeat([]byte{b}, secret.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fullRecord has every field set, personal ones included.
func fullRecord() store.AuditRecord {
	return store.AuditRecord{Seq: 7, Time: time.Unix(1700000000, 123456789).UTC(), TenantID: "t1", ActorID: "us-1",
		ActorEmail: "ada@example.com", Action: ActionLoginSuccess, Target: "user:us-1", Outcome: Success, IP: "192.0.2.1",
		UserAgent: "Mozilla/5.0", SessionID: "se-1", RequestID: "rq-1", Details: map[string]string{"method": "pwd", "path": "/a"},
		PrevHash: bytes.Repeat([]byte{1}, 32)}
}

// v1Reference is the version-1 hash as its format is documented (and as every trail
// written before version 2 was hashed), written out independently of Hash.
func v1Reference(r store.AuditRecord) []byte {
	var b bytes.Buffer
	u64 := func(v uint64) { b.Write(binary.BigEndian.AppendUint64(nil, v)) }
	str := func(s string) { u64(uint64(len(s))); b.WriteString(s) }
	b.WriteString("gatehouse-audit-v1")
	b.Write(r.PrevHash)
	u64(uint64(r.Seq))
	str(r.Time.UTC().Format(time.RFC3339Nano))
	for _, s := range []string{r.TenantID, r.ActorID, r.ActorEmail, r.Action, r.Target, r.Outcome, r.IP, r.UserAgent, r.SessionID, r.RequestID} {
		str(s)
	}
	keys := slices.Sorted(maps.Keys(r.Details))
	u64(uint64(len(keys)))
	for _, k := range keys {
		str(k)
		str(r.Details[k])
	}
	sum := sha256.Sum256(b.Bytes())
	return sum[:]
}

// TestHashV1Unchanged: a record without a version (every record before version 2)
// and a version-1 record hash exactly as version 1 always did, whatever digest
// columns a newer schema gives them.
func TestHashV1Unchanged(t *testing.T) {
	r := fullRecord()
	want := v1Reference(r)
	for _, v := range []int{0, V1} {
		c := r
		c.Version = v
		if got := Hash(c); !bytes.Equal(got, want) {
			t.Errorf("version %d: Hash = %x, want the version-1 hash %x", v, got, want)
		}
		c.PIIDigest, c.PIIErased = []byte("ignored"), false
		if got := Hash(c); !bytes.Equal(got, want) {
			t.Errorf("version %d with a digest: Hash = %x, want %x", v, got, want)
		}
	}
	empty := store.AuditRecord{PrevHash: ZeroHash, Seq: 1}
	if !bytes.Equal(Hash(empty), v1Reference(empty)) {
		t.Error("an empty version-1 record hashes differently from the documented format")
	}
	if Hash(store.AuditRecord{Version: 3}) != nil {
		t.Error("a record of an unknown version has a hash")
	}
}

// TestHashV2CoversTheDigestNotThePersonalFields: in version 2, changing any
// non-personal field, the version or the digest changes the hash; changing a
// personal field does not (so it can be erased), but it changes the digest.
func TestHashV2CoversTheDigestNotThePersonalFields(t *testing.T) {
	d := testDigester(t, 1)
	r := d.Seal(fullRecord())
	if r.Version != V2 || len(r.PIIDigest) != DigestSize || !bytes.Equal(r.PIIDigest, d.Digest(r)) {
		t.Fatalf("Seal: version %d, digest %x", r.Version, r.PIIDigest)
	}
	base := Hash(r)
	if bytes.Equal(base, v1Reference(r)) {
		t.Fatal("a version-2 record hashes as version 1")
	}
	hashed := map[string]func(*store.AuditRecord){
		"seq":       func(r *store.AuditRecord) { r.Seq++ },
		"time":      func(r *store.AuditRecord) { r.Time = r.Time.Add(time.Nanosecond) },
		"tenant":    func(r *store.AuditRecord) { r.TenantID = "t2" },
		"actor id":  func(r *store.AuditRecord) { r.ActorID = "us-2" },
		"action":    func(r *store.AuditRecord) { r.Action = ActionLogout },
		"target":    func(r *store.AuditRecord) { r.Target = "user:us-2" },
		"outcome":   func(r *store.AuditRecord) { r.Outcome = Failure },
		"session":   func(r *store.AuditRecord) { r.SessionID = "se-2" },
		"request":   func(r *store.AuditRecord) { r.RequestID = "rq-2" },
		"prev hash": func(r *store.AuditRecord) { r.PrevHash = ZeroHash },
		"digest": func(r *store.AuditRecord) {
			r.PIIDigest = append(slices.Clone(r.PIIDigest[:DigestSize-1]), r.PIIDigest[DigestSize-1]^1)
		},
		"version":    func(r *store.AuditRecord) { r.Version = V1 },
		"boundaries": func(r *store.AuditRecord) { r.SessionID, r.RequestID = "se-1r", "q-1" },
	}
	for name, change := range hashed {
		c := r
		change(&c)
		if bytes.Equal(Hash(c), base) {
			t.Errorf("%s changed: the version-2 hash did not change", name)
		}
	}
	personal := map[string]func(*store.AuditRecord){
		"e-mail":        func(r *store.AuditRecord) { r.ActorEmail = "eve@example.com" },
		"ip":            func(r *store.AuditRecord) { r.IP = "203.0.113.1" },
		"user agent":    func(r *store.AuditRecord) { r.UserAgent = "curl" },
		"details value": func(r *store.AuditRecord) { r.Details = map[string]string{"method": "pwd", "path": "/b"} },
		"details key":   func(r *store.AuditRecord) { r.Details = map[string]string{"method": "pwd", "path2": "/a"} },
		"detail added":  func(r *store.AuditRecord) { r.Details = map[string]string{"method": "pwd", "path": "/a", "x": ""} },
		"boundaries":    func(r *store.AuditRecord) { r.ActorEmail, r.IP = "ada@example.com1", "92.0.2.1" },
		"erased": func(r *store.AuditRecord) {
			r.ActorEmail, r.IP, r.UserAgent, r.Details, r.PIIErased = "", "", "", nil, true
		},
	}
	for name, change := range personal {
		c := r
		change(&c)
		if !bytes.Equal(Hash(c), base) {
			t.Errorf("%s changed: the version-2 hash changed (the field could not be erased)", name)
		}
		if bytes.Equal(d.Digest(c), r.PIIDigest) {
			t.Errorf("%s changed: the digest did not change", name)
		}
	}
}

// TestDigestKeyed: the digest depends on the master key (the same key gives the same
// digest; another key another one, and another key id), so nobody without the key
// can test a guessed e-mail against it.
func TestDigestKeyed(t *testing.T) {
	a, a2, b := testDigester(t, 1), testDigester(t, 1), testDigester(t, 2)
	r := fullRecord()
	if !bytes.Equal(a.Digest(r), a2.Digest(r)) || a.KeyID() != a2.KeyID() {
		t.Error("the same master key gives different digests")
	}
	if bytes.Equal(a.Digest(r)[digestKeyIDSize:], b.Digest(r)[digestKeyIDSize:]) || a.KeyID() == b.KeyID() {
		t.Error("another master key gives the same digest or key id")
	}
	if got := a.Digest(r); !strings.HasPrefix(fmt.Sprintf("%x", got), a.KeyID()) || len(got) != DigestSize {
		t.Errorf("digest %x does not start with key id %s", got, a.KeyID())
	}
	if _, err := NewDigester([]byte("short")); err == nil {
		t.Error("NewDigester accepted a short master key")
	}
}

// TestSealCleansAsTheStoreKeeps: Seal cleans the personal fields exactly as the store
// will (otherwise the digest would cover bytes it does not hold), does not touch the
// caller's details, and without a digester leaves a version-1 record.
func TestSealCleansAsTheStoreKeeps(t *testing.T) {
	d := testDigester(t, 1)
	in := fullRecord()
	in.UserAgent, in.Details = "bad\xff\x00ua", map[string]string{"k\xff": "v\x00"}
	out := d.Seal(in)
	if out.UserAgent != store.CleanText(in.UserAgent) || out.Details[store.CleanText("k\xff")] != store.CleanText("v\x00") || len(out.Details) != 1 {
		t.Errorf("sealed: user agent %q, details %q", out.UserAgent, out.Details)
	}
	if _, ok := in.Details["k\xff"]; !ok {
		t.Error("Seal changed the caller's details")
	}
	if !bytes.Equal(out.PIIDigest, d.Digest(out)) {
		t.Error("the digest is not of the cleaned fields")
	}
	var none *Digester
	if r := none.Seal(in); r.Version != 0 || r.PIIDigest != nil || r.UserAgent != in.UserAgent {
		t.Errorf("Seal without a digester: %+v", r)
	}
}

// chainV2 is an intact in-memory chain of n version-2 records sealed by d.
func chainV2(d *Digester, n int) []store.AuditRecord {
	prev := ZeroHash
	var out []store.AuditRecord
	for i := 1; i <= n; i++ {
		r := d.Seal(store.AuditRecord{Seq: int64(i), TenantID: "t1", Time: time.Unix(int64(1700000000+i), 0).UTC(),
			ActorID: "us-1", ActorEmail: "a@example.com", Action: ActionLoginSuccess, Outcome: Success, IP: "192.0.2.1",
			Details: map[string]string{"i": fmt.Sprint(i)}})
		r.PrevHash = prev
		r.Hash = Hash(r)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

// TestVerifierPersonalFields: the chain of version-2 records verifies without a key;
// with it, a changed personal field is an Altered break at its record, an erased
// record verifies only when its fields are indeed empty, and records digested with
// another key are counted, not passed off as checked.
func TestVerifierPersonalFields(t *testing.T) {
	d := testDigester(t, 1)
	run := func(rs []store.AuditRecord, key *Digester) (PersonalCheck, error) {
		v := NewVerifier().CheckPersonal(key)
		for _, r := range rs {
			if err := v.Check(r); err != nil {
				return v.Personal(), err
			}
		}
		return v.Personal(), nil
	}
	erase := func(r *store.AuditRecord) {
		r.ActorEmail, r.IP, r.UserAgent, r.Details, r.PIIErased = "", "", "", nil, true
	}
	if p, err := run(chainV2(d, 5), d); err != nil || p != (PersonalCheck{Matched: 5}) {
		t.Errorf("intact, with the key: %+v %v", p, err)
	}
	rs := chainV2(d, 5)
	erase(&rs[1])
	rs[3].IP = "203.0.113.1"
	if p, err := run(rs, nil); err != nil || p != (PersonalCheck{Skipped: 4, Erased: 1}) {
		t.Errorf("without the key (an IP changed, not seen): %+v %v", p, err)
	}
	if p, err := run(chainV2(d, 3), testDigester(t, 2)); err != nil || p.OtherKey != 3 || p.OtherID != d.KeyID() || p.Matched != 0 {
		t.Errorf("with another key: %+v %v", p, err)
	}
	mixed := append(chainOf(2), chainV2(d, 4)[2:]...) // version 1, then version 2 (an upgraded trail)
	mixed[2].PrevHash = mixed[1].Hash
	mixed[2].Hash = Hash(mixed[2])
	mixed[3].PrevHash = mixed[2].Hash
	mixed[3].Hash = Hash(mixed[3])
	if p, err := run(mixed, d); err != nil || p != (PersonalCheck{V1: 2, Matched: 2}) {
		t.Errorf("version 1 then version 2: %+v %v", p, err)
	}

	for name, c := range map[string]struct {
		tamper func([]store.AuditRecord)
		seq    int64
		says   string
	}{
		"e-mail":         {func(rs []store.AuditRecord) { rs[2].ActorEmail = "eve@example.com" }, 3, "a personal field was changed"},
		"details":        {func(rs []store.AuditRecord) { rs[0].Details["i"] = "9" }, 1, "a personal field was changed"},
		"user agent":     {func(rs []store.AuditRecord) { rs[4].UserAgent = "x" }, 5, "a personal field was changed"},
		"refilled":       {func(rs []store.AuditRecord) { erase(&rs[1]); rs[1].ActorEmail = "eve@example.com" }, 2, "marked erased but has personal fields"},
		"digest cut":     {func(rs []store.AuditRecord) { rs[1].PIIDigest = rs[1].PIIDigest[:8] }, 2, "does not match its contents"},
		"outcome":        {func(rs []store.AuditRecord) { rs[3].Outcome = Failure }, 4, "does not match its contents"},
		"version 3":      {func(rs []store.AuditRecord) { rs[2].Version = 3 }, 3, "unknown chain version 3"},
		"erased, v1":     {func(rs []store.AuditRecord) { rs[2].Version = V1; erase(&rs[2]) }, 3, "does not match its contents"},
		"re-digested":    {func(rs []store.AuditRecord) { rs[2].IP = "203.0.113.1"; rs[2].PIIDigest = d.Digest(rs[2]) }, 3, "does not match its contents"},
		"seq swapped v2": {func(rs []store.AuditRecord) { rs[1].Seq, rs[2].Seq = 3, 2; rs[1], rs[2] = rs[2], rs[1] }, 2, "it is record 3"},
	} {
		rs := chainV2(d, 5)
		c.tamper(rs)
		_, err := run(rs, d)
		ve, ok := err.(*VerifyError)
		if !ok || ve.Seq != c.seq || !strings.Contains(ve.Reason, c.says) {
			t.Errorf("%s: got %v, want a break at record %d saying %q", name, err, c.seq, c.says)
		}
	}
}

// TestOldWriterTrailStillVerifies: a trail written by the writer as it was before
// version 2 (no digest key) verifies, and so does the same trail continued by a
// writer with the key, and a user's erasure in it.
func TestOldWriterTrailStillVerifies(t *testing.T) {
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
	d := testDigester(t, 1)
	write := func(w *Writer, n int) {
		for i := range n {
			if _, err := w.Write(ctx, th, store.AuditRecord{ActorID: "us-1", ActorEmail: "ada@example.com", Action: ActionLoginSuccess,
				Outcome: Success, IP: "192.0.2.1", UserAgent: "ua", Details: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(want PersonalCheck, n int64) {
		t.Helper()
		res, err := VerifyTrail(ctx, th.Audit(), VerifyOptions{Digester: d})
		if err != nil || res.Records != n || res.Personal != want {
			t.Fatalf("verify: %d records, %+v, %v; want %d, %+v", res.Records, res.Personal, err, n, want)
		}
	}
	write(NewWriter(clock.Real{}), 3) // the old path
	check(PersonalCheck{V1: 3}, 3)
	write(NewWriter(clock.Real{}).WithDigester(d), 2)
	check(PersonalCheck{V1: 3, Matched: 2}, 5)
	if res, err := th.Audit().ErasePersonal(ctx, "us-1"); err != nil || res != (store.AuditErasure{Erased: 2, Kept: 3}) {
		t.Fatalf("ErasePersonal: %+v %v", res, err)
	}
	check(PersonalCheck{V1: 3, Erased: 2}, 5)
	if n, err := Verify(ctx, th); err != nil || n != 5 {
		t.Fatalf("Verify (no key): %d %v", n, err)
	}
}
