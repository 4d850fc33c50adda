package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestAuditExportPDF: a real PDF (checked with poppler's pdftotext, an independent
// reader): title, tenant, range, filter, chain status, Unicode names as text (the
// font is embedded), the table header on every page, "page N of M"; the export
// audited with format pdf; more than the cap refused without a record.
func TestAuditExportPDF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	names := []string{"zoë@ex.test", "Ünïcødé Łukasz", "Иван Петров", "Σωκράτης"}
	n := ExportPage + 3 // more than a read page, and many PDF pages
	for i := range n {
		r := audit.Event("test.event", audit.Success, owner.Actor, audit.Origin{IP: "203.0.113.9"})
		r.Target = fmt.Sprint("thing:", i)
		if i < len(names) {
			r.ActorEmail = names[i]
			r.Target = "user:" + names[(i+1)%len(names)]
		}
		if err := f.svc.Audit.Record(ctx, f.ws, r); err != nil {
			t.Fatal(err)
		}
	}
	head := f.lastRecord(t)

	au := Audit{Service: f.svc}
	ex, err := au.StartExport(ctx, f.ws, owner, AuditFilter{Action: "test."}, "PDF")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	sum, err := ex.WritePDF(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != n || sum.Format != "pdf" || !sum.Chain.OK() || sum.Chain.Through != head.Seq {
		t.Fatalf("summary %+v", sum)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", b.Bytes()[:min(20, b.Len())])
	}
	rec := f.lastRecord(t)
	if rec.Action != ActionAuditExport || rec.Details["format"] != "pdf" || rec.Details["rows"] != strconv.Itoa(n) || rec.Outcome != audit.Success {
		t.Fatalf("export record %+v", rec)
	}

	// The cap: refused as a format error, nothing recorded.
	ex2, err := au.StartExport(ctx, f.ws, owner, AuditFilter{Action: "test."}, "pdf")
	if err != nil {
		t.Fatal(err)
	}
	before := f.lastRecord(t).Seq
	var fe *FieldError
	if _, err := ex2.collect(ctx, 10); !errors.As(err, &fe) || fe.Field != "format" || !strings.Contains(fe.Msg, "narrow the filter") {
		t.Fatalf("cap: %v", err)
	}
	if f.lastRecord(t).Seq != before {
		t.Fatal("a refused export was recorded")
	}

	// An independent reader.
	pages := readPDFPages(t, b.Bytes())
	if testing.Verbose() {
		t.Logf("page 1:\n%s\nlast page:\n%s", pages[0], pages[len(pages)-1])
	}
	if len(pages) < 3 {
		t.Fatalf("%d pages", len(pages))
	}
	p1 := pages[0]
	for _, want := range []string{"Audit trail", f.ws.Slug, `action beginning with "test."`,
		"chain intact through record " + strconv.FormatInt(head.Seq, 10), fmt.Sprintf("page 1 of %d", len(pages)),
		"Time (UTC)", "Actor", "Outcome", "Target", "203.0.113.9"} {
		if !strings.Contains(p1, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, p1)
		}
	}
	last := pages[len(pages)-1]
	for _, want := range append(names, "Time (UTC)", "Action", fmt.Sprintf("page %d of %d", len(pages), len(pages))) {
		if !strings.Contains(last, want) {
			t.Errorf("last page lacks %q:\n%s", want, last)
		}
	}
	for _, want := range []string{"Time (UTC)", "Actor", "Action", "Outcome", "Target", "IP", fmt.Sprintf("page 2 of %d", len(pages))} {
		if !strings.Contains(pages[1], want) {
			t.Errorf("page 2 lacks %q:\n%s", want, pages[1])
		}
	}
	if strings.Contains(pages[1], "Filter") {
		t.Error("the title block repeats on page 2")
	}
}

// readPDFPages extracts a PDF's text page by page with poppler's pdftotext (an independent
// reader; testenv.Need when it is missing).
func readPDFPages(t *testing.T, doc []byte) []string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		testenv.Need(t, "pdftotext (poppler-utils) to read the exported PDF")
	}
	path := filepath.Join(t.TempDir(), "export.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	pages := strings.Split(string(out), "\f")
	if len(pages) > 0 && strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages
}
