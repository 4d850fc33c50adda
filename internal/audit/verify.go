package audit

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// VerifyOptions says how much of a trail VerifyTrail checks, and how.
type VerifyOptions struct {
	UpTo int64 // the last record to verify; 0: to the end of the trail
	Page int   // records read at a time (memory stays flat); < 1: 1000
	// Digester, when set, also checks each version-2 record's personal fields against
	// its keyed digest (Verifier.CheckPersonal); nil skips that check (counted in
	// TrailResult.Personal.Skipped). The chain itself needs no key.
	Digester *Digester
}

// TrailResult is what VerifyTrail found.
type TrailResult struct {
	Records  int64  // the sequence number of the last intact record (0: none)
	Last     []byte // its hash (ZeroHash when none)
	Personal PersonalCheck
}

// VerifyTrail walks a tenant's trail from its first record through o.UpTo in pages,
// checking the chain (and the personal fields, with o.Digester). It returns how far
// the trail is intact and the first break as a *VerifyError; a trail that ends
// before o.UpTo is a break (Removed).
func VerifyTrail(ctx context.Context, as store.AuditStore, o VerifyOptions) (TrailResult, error) {
	v, err := Chain{Audit: as, Digester: o.Digester}.VerifyThrough(ctx, o.UpTo, o.Page)
	return TrailResult{Records: v.Last, Last: v.Hash, Personal: v.Personal}, err
}
