package audit

import (
	"context"
	"fmt"

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
	page := o.Page
	if page < 1 {
		page = 1000
	}
	v := NewVerifier().CheckPersonal(o.Digester)
	result := func() TrailResult {
		n, last := v.Last()
		return TrailResult{Records: n, Last: last, Personal: v.Personal()}
	}
	var after int64
	for {
		recs, err := as.ListAudit(ctx, after, page)
		if err != nil {
			return result(), fmt.Errorf("reading the audit trail after record %d: %w", after, err)
		}
		for _, r := range recs {
			if o.UpTo > 0 && r.Seq > o.UpTo {
				return result(), nil
			}
			if err := v.Check(r); err != nil {
				return result(), err
			}
			after = r.Seq
		}
		if len(recs) < page {
			res := result()
			if o.UpTo > 0 && res.Records < o.UpTo {
				return res, &VerifyError{Seq: res.Records + 1, Kind: Removed,
					Reason: fmt.Sprintf("the trail ends at record %d, before record %d", res.Records, o.UpTo)}
			}
			return res, nil
		}
	}
}
