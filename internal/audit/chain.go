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

// Hash computes a record's chain hash: SHA-256 over the previous hash and an
// unambiguous (length-prefixed) encoding of every field, details sorted by key.
func Hash(r store.AuditRecord) []byte {
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

// VerifyError names the first record where the chain breaks.
type VerifyError struct {
	Seq    int64
	Reason string
}

func (e *VerifyError) Error() string { return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason) }

// Verifier checks a chain record by record, in order.
type Verifier struct {
	prev    []byte
	nextSeq int64
}

// NewVerifier starts at the beginning of a tenant's chain.
func NewVerifier() *Verifier { return &Verifier{prev: ZeroHash, nextSeq: 1} }

// Check verifies the next record.
func (v *Verifier) Check(r store.AuditRecord) error {
	switch {
	case r.Seq != v.nextSeq:
		return &VerifyError{Seq: v.nextSeq, Reason: fmt.Sprintf("missing or reordered (found %d next)", r.Seq)}
	case !bytes.Equal(r.PrevHash, v.prev):
		return &VerifyError{Seq: r.Seq, Reason: "previous-hash link broken"}
	case !bytes.Equal(Hash(r), r.Hash):
		return &VerifyError{Seq: r.Seq, Reason: "content altered"}
	}
	v.prev, v.nextSeq = r.Hash, r.Seq+1
	return nil
}
