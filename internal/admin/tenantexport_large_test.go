package admin

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// heapWatcher is a writer that passes what it gets on to w and, every megabyte,
// measures the live heap (after a collection, so garbage does not count): the peak is
// what the export held while writing.
type heapWatcher struct {
	w             io.Writer
	written, next int64
	peak          uint64
}

func (h *heapWatcher) Write(p []byte) (int, error) {
	if _, err := h.w.Write(p); err != nil {
		return 0, err
	}
	h.written += int64(len(p))
	if h.written >= h.next {
		h.next = h.written + 1<<20
		h.peak = max(h.peak, liveHeap())
	}
	return len(p), nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTenantExportLargeTenantFlatMemory: a tenant of 5,000 members and 50,000 audit
// records (500 and 20,000 under the race detector) exports, in both formats, while the
// live heap grows by far less than the export's size: the export streams rather than
// builds the document.
func TestTenantExportLargeTenantFlatMemory(t *testing.T) {
	testenv.Short(t, "a 5,000-member, 50,000-record tenant")
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@big.test", identity.RoleOwner)
	members, records := 5000, 50000
	if raceDetector {
		// Everything is many times slower under the race detector (as make test and
		// CI run it): a smaller tenant there, still with tens of MB of data to stream.
		members, records = 500, 20000
	}
	for i := range members {
		u := store.User{ID: secret.NewID(), Email: fmt.Sprintf("member%05d@big.test", i), DisplayName: fmt.Sprintf("Member %d", i),
			PasswordHash: "$2a$04$notarealhashbutlongenoughtolookliketheone", Status: store.UserActive, Roles: []string{identity.RoleMember},
			CreatedAt: f.clk.Now()}
		if err := f.ws.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	batch := make([]store.AuditRecord, 0, 1000)
	for i := range records {
		r := audit.Event("test.bulk", audit.Success, audit.Actor{UserID: "u", Email: "member@big.test"}, audit.Origin{IP: "192.0.2.1",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", RequestID: fmt.Sprint("req-", i)})
		r.Time, r.TenantID, r.Target = f.clk.Now(), f.ws.ID, "user:"+strings.Repeat("t", 20)
		r.Details = map[string]string{"note": strings.Repeat("detail ", 30)}
		if batch = append(batch, r); len(batch) == cap(batch) {
			if _, err := f.ws.Audit().AppendBatch(ctx, batch, audit.Hash); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, format := range []string{ExportJSON, ExportCSV} {
		t.Run(format, func(t *testing.T) {
			owner.Verified = f.clk.Now()
			base := liveHeap()
			file, err := os.Create(filepath.Join(t.TempDir(), "export"))
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			w := &heapWatcher{w: file}
			start := time.Now()
			sum, err := TenantExport{f.svc}.Export(ctx, f.ws, owner, TenantExportOptions{Format: format, WithAudit: true}, w)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Counts[KindMembers] != members+1 || sum.Counts[KindAudit] < records {
				t.Fatalf("counts: %v", sum.Counts)
			}
			grew := int64(w.peak) - int64(base)
			size := w.written // the data exported: for CSV, what the zip holds uncompressed
			if format == ExportCSV {
				zr, err := zip.OpenReader(file.Name())
				if err != nil {
					t.Fatal(err)
				}
				size = 0
				for _, zf := range zr.File {
					size += int64(zf.UncompressedSize64)
				}
				zr.Close()
			}
			t.Logf("%s: %d MB of data (%d MB written) in %v; live heap grew by at most %.1f MB", format, size>>20, w.written>>20,
				time.Since(start).Round(time.Millisecond), float64(grew)/(1<<20))
			// The members are held (one slice of 5,000); the audit trail, most of the
			// data, is not. A document built in memory would hold all of it.
			if limit := int64(16 << 20); grew > limit || grew > size/3 {
				t.Errorf("the live heap grew by %d bytes while exporting %d: not streamed", grew, size)
			}
		})
	}
}
