package audit

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Trail is the audit table of one tenant: all the writer needs (a store.TenantHandle
// is one).
type Trail interface {
	TenantID() string
	Audit() store.AuditStore
}

// Writer appends audit records. Security events are written synchronously: the call
// returns only when the record is durable, so a response is never sent for an event
// that was not recorded.
type Writer struct {
	clk    clock.Clock
	digest *Digester // nil: version-1 records (WithDigester, digest.go)
}

// NewWriter returns a Writer.
func NewWriter(clk clock.Clock) *Writer { return &Writer{clk: clk} }

// Write appends r to the tenant's trail, filling in time and tenant.
func (w *Writer) Write(ctx context.Context, t Trail, r store.AuditRecord) (store.AuditRecord, error) {
	if r.Time.IsZero() {
		r.Time = w.clk.Now()
	}
	r.TenantID = t.TenantID()
	r = w.Seal(r)
	out, err := t.Audit().Append(ctx, r, Hash)
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("writing audit record %s: %w", r.Action, err)
	}
	return out, nil
}

// Record is Write for callers that only need to know it is durable.
func (w *Writer) Record(ctx context.Context, t Trail, r store.AuditRecord) error {
	_, err := w.Write(ctx, t, r)
	return err
}

// Verify walks a tenant's whole trail and returns the first break (*VerifyError) or nil,
// with the number of records checked.
func Verify(ctx context.Context, t Trail) (int64, error) {
	v := NewVerifier()
	var after int64
	for {
		recs, err := t.Audit().ListAudit(ctx, after, 1000)
		if err != nil {
			return after, fmt.Errorf("reading audit trail: %w", err)
		}
		for _, r := range recs {
			if err := v.Check(r); err != nil {
				return after, err
			}
			after = r.Seq
		}
		if len(recs) < 1000 {
			return after, nil
		}
	}
}

// VerifyThrough walks a tenant's trail from its first record through record upTo
// (0: to the end) in pages of size page, so memory stays flat. It returns how many
// records verified (the sequence number of the last intact one) and that record's
// hash, and the first break as a *VerifyError; a trail that ends before upTo is a
// break (Removed), and so is one that no longer starts at record 1 (it trusts no
// expiry cut: Chain.VerifyThrough does).
func VerifyThrough(ctx context.Context, as store.AuditStore, upTo int64, page int) (int64, []byte, error) {
	v, err := Chain{Audit: as}.VerifyThrough(ctx, upTo, page)
	return v.Last, v.Hash, err
}
