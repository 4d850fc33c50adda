package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/pdffont"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// MaxPDFRows is the most records a PDF export holds. The document is built in memory
// (fpdf lays it out before writing it, for "page N of M"), so its size is capped; a
// larger export is refused before anything is written: narrow the filter or export
// CSV, which streams.
const MaxPDFRows = 20000

// pdfColumns are the table's columns and their widths in mm (landscape A4 less the
// 10 mm margins: 277 mm).
var pdfColumns = []struct {
	title string
	width float64
}{{"#", 16}, {"Time (UTC)", 36}, {"Actor", 55}, {"Action", 42}, {"Outcome", 18}, {"Target", 70}, {"IP", 40}}

// WritePDF writes the export to w as a PDF document (landscape A4, fonts embedded so
// any Unicode name in Latin, Greek or Cyrillic script renders): the title, tenant,
// the exported range, the filter in words and the chain status, then a table of the
// records newest first (seq, time, actor, action, outcome, target, IP) whose header
// row repeats on every page, and "page N of M" at the foot of each page. It reads
// ExportPage records at a time like WriteCSV. An export of more than MaxPDFRows
// records is refused (a *FieldError on format) without writing or recording
// anything; otherwise the export is recorded in the trail like a CSV one (also when
// it failed, with outcome failure).
func (e *AuditExport) WritePDF(ctx context.Context, w io.Writer) (ExportSummary, error) {
	sum := ExportSummary{Format: e.Format, Chain: e.Chain}
	recs, err := e.collect(ctx, MaxPDFRows)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return sum, err // refused: nothing exported
		}
	} else {
		var doc bytes.Buffer
		if err = e.renderPDF(recs, &doc); err == nil {
			_, err = doc.WriteTo(w)
		}
		if err == nil {
			sum.Rows = len(recs)
		}
	}
	if rerr := e.record(ctx, sum, err); rerr != nil {
		return sum, errors.Join(err, rerr)
	}
	return sum, err
}

// collect reads the export's records, newest first, at most limit of them (more is a
// *FieldError).
func (e *AuditExport) collect(ctx context.Context, limit int) ([]store.AuditRecord, error) {
	var all []store.AuditRecord
	q := e.q
	q.Limit = ExportPage
	for !e.done {
		recs, err := e.ws.Audit().SearchAudit(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("reading the audit trail before record %d: %w", q.BeforeSeq, err)
		}
		all = append(all, recs...)
		if len(all) > limit {
			return nil, &FieldError{Field: "format", Msg: fmt.Sprintf(
				"a PDF export holds at most %d records and this filter matches more; narrow the filter (e.g. from/to) or export csv", limit)}
		}
		if len(recs) < q.Limit {
			break
		}
		q.BeforeSeq = recs[len(recs)-1].Seq
	}
	return all, nil
}

func (e *AuditExport) renderPDF(recs []store.AuditRecord, w io.Writer) error {
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetMargins(10, 10, 10)
	pdf.SetAutoPageBreak(true, 15)
	pdf.AddUTF8FontFromBytes(pdffont.Family, "", pdffont.Regular)
	pdf.AddUTF8FontFromBytes(pdffont.Family, "B", pdffont.Bold)
	pdf.SetTitle("Audit trail of "+e.ws.Slug, true)
	pdf.SetCreator("Gatehouse", true)
	pdf.AliasNbPages("{nb}")
	if e.a.Service != nil && e.a.Service.Clock != nil {
		pdf.SetCreationDate(e.a.Service.Clock.Now())
	}
	inTable := false
	tableHeader := func() {
		pdf.SetFont(pdffont.Family, "B", 8)
		pdf.SetFillColor(230, 230, 230)
		for _, c := range pdfColumns {
			pdf.CellFormat(c.width, 6, c.title, "1", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont(pdffont.Family, "", 8)
	}
	pdf.SetHeaderFunc(func() {
		if inTable {
			tableHeader()
		}
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont(pdffont.Family, "", 8)
		pdf.CellFormat(0, 5, "Audit trail · "+e.ws.Slug, "", 0, "L", false, 0, "")
		pdf.SetX(10)
		pdf.CellFormat(0, 5, fmt.Sprintf("page %d of {nb}", pdf.PageNo()), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont(pdffont.Family, "B", 16)
	pdf.CellFormat(0, 10, "Audit trail", "", 1, "L", false, 0, "")
	line := func(label, value string) {
		pdf.SetFont(pdffont.Family, "B", 9)
		pdf.CellFormat(32, 5, label, "", 0, "L", false, 0, "")
		pdf.SetFont(pdffont.Family, "", 9)
		pdf.MultiCell(0, 5, pdfText(value), "", "L", false)
	}
	tenant := e.ws.Slug
	if e.ws.Name != "" && e.ws.Name != e.ws.Slug {
		tenant = e.ws.Name + " (" + e.ws.Slug + ")"
	}
	line("Tenant", tenant)
	line("Range", exportRange(recs))
	line("Filter", filterWords(e.filter))
	line("Chain", e.Chain.String())
	line("Records", strconv.Itoa(len(recs))+" (newest first)")
	pdf.Ln(3)

	inTable = true
	tableHeader()
	for i, r := range recs {
		if i%2 == 1 {
			pdf.SetFillColor(246, 246, 246)
		} else {
			pdf.SetFillColor(255, 255, 255)
		}
		t := ""
		if !r.Time.IsZero() {
			t = r.Time.UTC().Format("2006-01-02 15:04:05")
		}
		email, ip := r.ActorEmail, r.IP
		if r.PIIErased {
			email, ip = audit.ErasedMark, audit.ErasedMark
		}
		for j, cell := range []string{strconv.FormatInt(r.Seq, 10), t, email, r.Action, r.Outcome, r.Target, ip} {
			c := pdfColumns[j]
			pdf.CellFormat(c.width, 5, fitText(pdf, pdfText(cell), c.width-2), "1", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
		if pdf.Err() {
			break
		}
	}
	if len(recs) == 0 {
		pdf.CellFormat(0, 6, "No record matches the filter.", "1", 1, "L", false, 0, "")
	}
	return pdf.Output(w)
}

// pdfText is s made safe for a cell: valid UTF-8, no control characters.
func pdfText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// fitText shortens s with an ellipsis until it fits width mm in the current font.
func fitText(pdf *fpdf.Fpdf, s string, width float64) string {
	if pdf.GetStringWidth(s) <= width {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && pdf.GetStringWidth(string(rs)+"…") > width {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// exportRange says which records an export holds (recs newest first).
func exportRange(recs []store.AuditRecord) string {
	if len(recs) == 0 {
		return "no records"
	}
	first, last := recs[len(recs)-1], recs[0]
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
	return fmt.Sprintf("records %d to %d, %s to %s", first.Seq, last.Seq, ts(first.Time), ts(last.Time))
}

// filterWords is the filter in words, for the document.
func filterWords(f AuditFilter) string {
	var parts []string
	add := func(v, format string) {
		if v = strings.TrimSpace(v); v != "" {
			parts = append(parts, fmt.Sprintf(format, v))
		}
	}
	add(f.From, "from %s")
	add(f.To, "to %s")
	add(f.Actor, "actor %s")
	add(f.Action, "action beginning with %q")
	add(f.Outcome, "outcome %s")
	add(f.IP, "IP address in %s")
	add(f.Target, "target %s")
	add(f.Text, "text containing %q")
	add(f.Before, "records before %s")
	if len(parts) == 0 {
		return "none (every record)"
	}
	return strings.Join(parts, "; ")
}
