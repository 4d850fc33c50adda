package admin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// TestExportAfterExpiry: once the oldest records expired under a signed cut, an
// export's chain status is intact from the cut (and says so, also in the header);
// without the audit keys to check the cut it is broken, never intact.
func TestExportAfterExpiry(t *testing.T) {
	ctx := t.Context()
	st := testdb.Store(t)
	ws := testdb.Workspace(t, st, "acme")
	clk := clock.NewFake(time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC))
	w := audit.NewWriter(clk)
	write := func(n int) {
		for range n {
			if err := w.Record(ctx, ws, audit.Event(audit.ActionLoginSuccess, audit.Success, audit.Actor{}, audit.Origin{})); err != nil {
				t.Fatal(err)
			}
		}
	}
	fc, err := secret.NewFieldCipher(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := &audit.KeyStore{Store: st.AuditKeys(), Leases: st.Maintenance(), Cipher: fc, Holder: "t", Clock: clk}
	write(5)
	clk.Advance(48 * time.Hour)
	write(2)
	exp := &audit.Expirer{Store: st, Keys: keys, Leases: st.Maintenance(), Holder: "t", Retention: 24 * time.Hour, Writer: w, Clock: clk}
	if _, n, err := exp.Once(ctx); err != nil || n != 5 {
		t.Fatalf("expiry: %d, %v", n, err)
	}

	ex, err := Audit{Service: &Service{Audit: w, AuditKeys: st.AuditKeys()}}.StartExport(ctx, ws, CLI(), AuditFilter{}, "csv")
	if err != nil {
		t.Fatal(err)
	}
	c := ex.Chain
	if !c.OK() || c.Through != 8 || c.From != 6 || c.Intact != 8 || c.Cut == nil || c.Cut.Seq != 5 {
		t.Fatalf("chain status after expiry: %+v", c)
	}
	if c.Header() != "intact; through=8; from=6" || !strings.Contains(c.String(), "chain intact through record 8 from the expiry cut at record 5") {
		t.Fatalf("chain status says %q / %q", c.Header(), c.String())
	}
	var b bytes.Buffer
	if _, err := ex.WriteCSV(ctx, &b); err != nil || strings.Count(b.String(), "\r\n") != 4 { // header and records 6 to 8
		t.Fatalf("export after expiry: %v\n%s", err, b.String())
	}

	ex, err = Audit{Service: &Service{Audit: w}}.StartExport(ctx, ws, CLI(), AuditFilter{}, "csv")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Chain.OK() || ex.Chain.Break.Kind != audit.Removed || !strings.HasPrefix(ex.Chain.Header(), "broken; at=1; kind=removed") {
		t.Fatalf("chain status without the audit keys: %+v", ex.Chain)
	}
}
