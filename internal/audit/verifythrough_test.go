package audit

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// listOnly is an AuditStore that only lists a fixed trail.
type listOnly struct {
	store.AuditStore
	recs []store.AuditRecord
}

func (l listOnly) ListAudit(_ context.Context, after int64, limit int) ([]store.AuditRecord, error) {
	var out []store.AuditRecord
	for _, r := range l.recs {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// TestVerifyThrough: it stops at upTo (a break after it does not count), reads in
// pages of any size, and a trail that ends before upTo is a removal.
func TestVerifyThrough(t *testing.T) {
	var recs []store.AuditRecord
	prev := ZeroHash
	for i := int64(1); i <= 6; i++ {
		r := store.AuditRecord{Seq: i, TenantID: "t", Action: "x", PrevHash: prev}
		r.Hash = Hash(r)
		prev = r.Hash
		recs = append(recs, r)
	}
	recs[4].Action = "altered" // record 5
	as := listOnly{recs: recs}
	for _, page := range []int{1, 2, 4, 1000} {
		n, last, err := VerifyThrough(context.Background(), as, 4, page)
		if err != nil || n != 4 || !bytes.Equal(last, recs[3].Hash) {
			t.Errorf("page %d, through 4: %d %v", page, n, err)
		}
		var ve *VerifyError
		if n, _, err := VerifyThrough(context.Background(), as, 0, page); !errors.As(err, &ve) || ve.Seq != 5 || ve.Kind != Altered || n != 4 {
			t.Errorf("page %d, to the end: %d %v", page, n, err)
		}
	}
	var ve *VerifyError
	if n, _, err := VerifyThrough(context.Background(), listOnly{recs: recs[:3]}, 4, 2); !errors.As(err, &ve) || ve.Seq != 4 || ve.Kind != Removed || n != 3 {
		t.Errorf("short trail: %d %v", n, err)
	}
}
