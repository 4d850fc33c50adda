package sqlstore

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestAuditSearchCIDRBatches: a CIDR search that reads several batches (and stops in
// the middle of one) finds every match, in order, and pages on without a gap.
func TestAuditSearchCIDRBatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h := newTenant(t, s)
		const n = 30
		var want []int64
		for i := range n {
			ip := fmt.Sprintf("203.0.113.%d", i)
			if i%4 == 0 {
				ip = fmt.Sprintf("198.51.100.%d", i)
				want = append([]int64{int64(i + 1)}, want...)
			}
			if _, err := h.Audit().Append(t.Context(), store.AuditRecord{Action: "a", IP: ip}, storetest.ChainHash); err != nil {
				t.Fatal(err)
			}
		}
		as := h.Audit().(auditStore)
		q := store.AuditQuery{CIDR: netip.MustParsePrefix("198.51.100.0/24"), Limit: 3}
		where, args := as.auditWhere(q)
		var got []int64
		for {
			page, err := as.searchCIDR(t.Context(), q, where, args, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, r.Seq)
			}
			q.BeforeSeq = page[len(page)-1].Seq
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seqs %v, want %v", got, want)
		}
	})
}
