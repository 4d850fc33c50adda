package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ZeroHash is the PrevHash of a tenant's first record.
var ZeroHash = make([]byte, sha256.Size)

// Hash computes a record's chain hash, by its version: SHA-256 over the previous hash
// and an unambiguous (length-prefixed) encoding of every field (version 1, details
// sorted by key), or of every field but the personal ones and their keyed digest
// instead (version 2, hashV2). It is a function of the record alone: no key is needed
// to verify the chain. An unknown version has no hash (nil).
func Hash(r store.AuditRecord) []byte {
	switch r.Version {
	case 0, V1:
		return hashV1(r)
	case V2:
		return hashV2(r)
	}
	return nil
}

// hashV1 is the hash of a version-1 record, unchanged since the first release.
func hashV1(r store.AuditRecord) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write([]byte("gatehouse-audit-v1"))
	h.Write(r.PrevHash)
	binary.BigEndian.PutUint64(n[:], uint64(r.Seq))
	h.Write(n[:])
	field(r.Time.UTC().Format(time.RFC3339Nano))
	for _, s := range []string{r.TenantID, r.ActorID, r.ActorEmail, r.Action, r.Target, r.Outcome, r.IP, r.UserAgent, r.SessionID, r.RequestID} {
		field(s)
	}
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	binary.BigEndian.PutUint64(n[:], uint64(len(keys)))
	h.Write(n[:])
	for _, k := range keys {
		field(k)
		field(r.Details[k])
	}
	return h.Sum(nil)
}

// Kind classifies a break in the chain.
type Kind string

// The kinds of break Verifier tells apart. Records are checked in sequence order, as
// the store lists them.
const (
	// Altered: the record links to its predecessor but its hash does not match its
	// contents (a field was changed in place).
	Altered Kind = "altered"
	// Removed: a sequence number is missing (Seq names the first missing one).
	Removed Kind = "removed"
	// Inserted: the record does not link to its predecessor and is not a renumbered
	// genuine record: a forged record sits here, or the one before it was replaced.
	Inserted Kind = "inserted"
	// Reordered: the record is a genuine record under another sequence number, or
	// the records arrive out of sequence order.
	Reordered Kind = "reordered"
)

// VerifyError names the first record where the chain breaks.
type VerifyError struct {
	Seq    int64
	Kind   Kind
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit record %d: %s: %s", e.Seq, e.Kind, e.Reason)
}

// renumberWindow bounds how far from its place Check looks for the original
// sequence number of a record that does not fit where it is (a few thousand hashes,
// computed only once, for the break).
const renumberWindow = 4096

// Verifier checks a chain record by record, in order.
type Verifier struct {
	prev     []byte
	nextSeq  int64
	digest   *Digester     // checks personal fields when set (CheckPersonal)
	personal PersonalCheck // what the personal-field checks found
}

// NewVerifier starts at the beginning of a tenant's chain.
func NewVerifier() *Verifier { return &Verifier{prev: ZeroHash, nextSeq: 1} }

// ResumeVerifier continues a chain after record seq, whose hash is known (from a
// checkpoint) to be hash.
func ResumeVerifier(seq int64, hash []byte) *Verifier {
	return &Verifier{prev: hash, nextSeq: seq + 1}
}

// Last returns the sequence number and hash of the last record checked and found
// intact (0 and ZeroHash before the first).
func (v *Verifier) Last() (int64, []byte) { return v.nextSeq - 1, v.prev }

// Check verifies the next record. The first break is a *VerifyError; after it the
// Verifier is not advanced, so further calls keep failing.
func (v *Verifier) Check(r store.AuditRecord) error {
	switch {
	case r.Seq > v.nextSeq:
		missing := fmt.Sprintf("record %d is missing", v.nextSeq)
		if r.Seq > v.nextSeq+1 {
			missing = fmt.Sprintf("records %d to %d are missing", v.nextSeq, r.Seq-1)
		}
		return &VerifyError{Seq: v.nextSeq, Kind: Removed, Reason: fmt.Sprintf("%s (the chain goes from record %d to record %d)", missing, v.nextSeq-1, r.Seq)}
	case r.Seq < v.nextSeq:
		return &VerifyError{Seq: r.Seq, Kind: Reordered, Reason: fmt.Sprintf("out of sequence: it comes after record %d", v.nextSeq-1)}
	}
	if r.Version < 0 || r.Version > V2 {
		return &VerifyError{Seq: r.Seq, Kind: Altered, Reason: fmt.Sprintf("unknown chain version %d (a field was changed, or a newer Gatehouse wrote it)", r.Version)}
	}
	linked, intact := bytes.Equal(r.PrevHash, v.prev), bytes.Equal(Hash(r), r.Hash)
	switch {
	case linked && intact:
		if err := v.checkPersonal(r); err != nil {
			return err
		}
		v.prev, v.nextSeq = r.Hash, r.Seq+1
		return nil
	case linked:
		return &VerifyError{Seq: r.Seq, Kind: Altered, Reason: "its hash does not match its contents (a field was changed)"}
	case intact:
		return &VerifyError{Seq: r.Seq, Kind: Inserted, Reason: fmt.Sprintf("its previous-hash does not link to record %d: a record was inserted here, or record %d was replaced, with recomputed hashes", r.Seq-1, r.Seq-1)}
	}
	if orig, ok := renumbered(r); ok {
		return &VerifyError{Seq: r.Seq, Kind: Reordered, Reason: fmt.Sprintf("it is record %d under another sequence number (records were renumbered or swapped)", orig)}
	}
	return &VerifyError{Seq: r.Seq, Kind: Inserted, Reason: fmt.Sprintf("its previous-hash does not link to record %d and its hash does not match its contents (a forged or overwritten record)", r.Seq-1)}
}

// renumbered looks for the sequence number r was hashed with, near its current one.
func renumbered(r store.AuditRecord) (int64, bool) {
	for d := int64(1); d <= renumberWindow; d++ {
		for _, s := range []int64{r.Seq - d, r.Seq + d} {
			if s < 1 {
				continue
			}
			c := r
			c.Seq = s
			if bytes.Equal(Hash(c), r.Hash) {
				return s, true
			}
		}
	}
	return 0, false
}
