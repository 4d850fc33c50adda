package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Chain versions (store.AuditRecord.Version).
const (
	// V1 records hash every field. Every record written before version 2 existed is
	// one, and stays one: its hash is computed exactly as it always was.
	V1 = 1
	// V2 records hash their personal fields (ActorEmail, IP, UserAgent, Details) only
	// through a keyed digest of them (PIIDigest), so that the fields can be erased
	// (GDPR) and the chain still verifies.
	V2 = 2
)

// digestKeyLabel is the purpose the digest key is derived for from the master key
// (secret.DeriveKey): it is independent of every other key Gatehouse derives.
const digestKeyLabel = "audit personal-data digest v1"

// digestKeyIDSize is the length of the key id that starts every digest.
const digestKeyIDSize = 8

// DigestSize is the length of a PIIDigest: the digest key's id, then the HMAC-SHA256.
const DigestSize = digestKeyIDSize + sha256.Size

// Digester computes the keyed digest of a record's personal fields: HMAC-SHA256 with a
// key derived from the master key. Without the key nobody can compute the digest of
// guessed values (an e-mail address is easy to guess, so a plain hash would not do),
// and once the fields are erased the digest reveals nothing about them; with it,
// `gatehouse audit verify` checks that the fields still hold what was recorded.
type Digester struct {
	key []byte
	id  []byte // digestKeyIDSize bytes naming key
}

// DigestKey derives a digest key from a master key. The gateway derives it once, when
// it first starts, and keeps it as a data key sealed with the master key, so that it
// stays the same when the master key is rotated (internal/masterkeys).
func DigestKey(master []byte) ([]byte, error) { return secret.DeriveKey(master, digestKeyLabel) }

// NewDigester derives the digest key from the master key (DigestKey).
func NewDigester(master []byte) (*Digester, error) {
	key, err := DigestKey(master)
	if err != nil {
		return nil, err
	}
	return NewDigesterWithKey(key)
}

// NewDigesterWithKey digests with key (32 bytes).
func NewDigesterWithKey(key []byte) (*Digester, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("audit digest key: %d bytes, want 32", len(key))
	}
	id := sha256.Sum256(append([]byte("gatehouse audit digest key id\x00"), key...))
	return &Digester{key: slices.Clone(key), id: id[:digestKeyIDSize]}, nil
}

// KeyID names the digest key (hex) without revealing it.
func (d *Digester) KeyID() string { return hex.EncodeToString(d.id) }

// Digest returns r's PIIDigest:
//
//	key id (8 bytes) || HMAC-SHA256(key,
//	    "gatehouse-audit-pii-v1"
//	    uint64 len(ActorEmail) || ActorEmail
//	    uint64 len(IP)         || IP
//	    uint64 len(UserAgent)  || UserAgent
//	    uint64 number of details, then for each, sorted by key:
//	    uint64 len(key) || key || uint64 len(value) || value)
//
// every integer big-endian. The key id lets verification tell a record digested with
// another master key from a changed one; it is covered by the chain hash like the MAC.
func (d *Digester) Digest(r store.AuditRecord) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("gatehouse-audit-pii-v1"))
	writeField(m, r.ActorEmail)
	writeField(m, r.IP)
	writeField(m, r.UserAgent)
	writeDetails(m, r.Details)
	return m.Sum(slices.Clip(d.id))
}

// Seal makes r a version-2 record: its personal fields cleaned exactly as the store
// will keep them (store.CleanText; otherwise the digest would cover bytes the store
// does not hold), Version 2 and PIIDigest. A nil Digester (no master key) leaves r a
// version-1 record. Every record goes through Seal before its append: Writer.Write
// does it, and so must any other path to the store.
func (d *Digester) Seal(r store.AuditRecord) store.AuditRecord {
	if d == nil {
		return r
	}
	r.ActorEmail, r.IP, r.UserAgent = store.CleanText(r.ActorEmail), store.CleanText(r.IP), store.CleanText(r.UserAgent)
	if len(r.Details) > 0 {
		keys := make([]string, 0, len(r.Details))
		for k := range r.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys) // two keys that clean alike: the later one wins, always the same
		clean := make(map[string]string, len(keys))
		for _, k := range keys {
			clean[store.CleanText(k)] = store.CleanText(r.Details[k])
		}
		r.Details = clean
	}
	r.Version, r.PIIDigest, r.PIIErased = V2, d.Digest(r), false
	return r
}

// Seal is the one preparation a record needs before any append: its version and
// digest (Digester.Seal with the Writer's digester; version 1 without one).
func (w *Writer) Seal(r store.AuditRecord) store.AuditRecord { return w.digest.Seal(r) }

// WithDigester makes w write version-2 records digested by d, and returns w.
func (w *Writer) WithDigester(d *Digester) *Writer {
	w.digest = d
	return w
}

// hashV2 is the chain hash of a version-2 record: like version 1's, but the personal
// fields are represented by PIIDigest only:
//
//	"gatehouse-audit-v2" || PrevHash || uint64 Seq
//	|| field(Time, RFC 3339 UTC with nanoseconds)
//	|| field(TenantID) || field(ActorID) || field(Action) || field(Target)
//	|| field(Outcome) || field(SessionID) || field(RequestID) || field(PIIDigest)
//
// where field(x) is uint64 len(x) || x, integers big-endian.
func hashV2(r store.AuditRecord) []byte {
	h := sha256.New()
	h.Write([]byte("gatehouse-audit-v2"))
	h.Write(r.PrevHash)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.Seq))
	h.Write(n[:])
	writeField(h, r.Time.UTC().Format(time.RFC3339Nano))
	for _, s := range []string{r.TenantID, r.ActorID, r.Action, r.Target, r.Outcome, r.SessionID, r.RequestID} {
		writeField(h, s)
	}
	writeField(h, string(r.PIIDigest))
	return h.Sum(nil)
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// writeDetails writes the number of details, then each key and value, sorted by key.
func writeDetails(h hash.Hash, details map[string]string) {
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(keys)))
	h.Write(n[:])
	for _, k := range keys {
		writeField(h, k)
		writeField(h, details[k])
	}
}

// PersonalCheck counts what a verification found in the personal fields of the
// records it checked (see Verifier.CheckPersonal).
type PersonalCheck struct {
	Matched  int64  // version-2 records whose personal fields match their digest
	Erased   int64  // version-2 records whose personal fields were erased
	Skipped  int64  // version-2 records not checked: no digest key given
	OtherKey int64  // version-2 records digested with another key than the one given
	OtherID  string // the id of that other key (the first one seen)
	V1       int64  // version-1 records (their chain hash covers the personal fields)
}

// CheckPersonal makes v also check, with d (nil: no key, the check is skipped and
// counted), that each intact version-2 record's personal fields match its digest; a
// mismatch is an Altered break. Erased records verify when their personal fields
// are indeed empty. It returns v.
func (v *Verifier) CheckPersonal(d *Digester) *Verifier {
	v.digest = d
	return v
}

// Personal returns what v found in the personal fields so far.
func (v *Verifier) Personal() PersonalCheck { return v.personal }

// checkPersonal checks r, already found linked and intact, and counts it.
func (v *Verifier) checkPersonal(r store.AuditRecord) error {
	c := &v.personal
	switch {
	case r.Version != V2:
		c.V1++
		return nil
	case r.PIIErased:
		if r.ActorEmail != "" || r.IP != "" || r.UserAgent != "" || len(r.Details) > 0 {
			return &VerifyError{Seq: r.Seq, Kind: Altered, Reason: "it is marked erased but has personal fields (e-mail, IP, user agent or details): they were written after the erasure"}
		}
		c.Erased++
		return nil
	case v.digest == nil:
		c.Skipped++
		return nil
	case len(r.PIIDigest) != DigestSize:
		return &VerifyError{Seq: r.Seq, Kind: Altered, Reason: "its personal-field digest is malformed"}
	case !bytes.Equal(r.PIIDigest[:digestKeyIDSize], v.digest.id):
		if c.OtherKey == 0 {
			c.OtherID = hex.EncodeToString(r.PIIDigest[:digestKeyIDSize])
		}
		c.OtherKey++
		return nil
	case !hmac.Equal(v.digest.Digest(r), r.PIIDigest):
		return &VerifyError{Seq: r.Seq, Kind: Altered, Reason: "a personal field was changed: its e-mail, IP, user agent or details do not match the keyed digest the chain covers"}
	}
	c.Matched++
	return nil
}

// ErasedMark is how exports and pages show a personal field that was erased.
const ErasedMark = "(erased)"
