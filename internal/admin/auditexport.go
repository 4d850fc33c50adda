package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/csvsafe"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionAuditExport records an export of the audit trail (format, filter, rows, chain
// status).
const ActionAuditExport = "audit.export"

// ExportPage is how many records an export reads at a time: memory stays flat
// whatever the size of the trail.
const ExportPage = store.MaxAuditSearch

// AuditColumns is the header row of the audit CSV.
var AuditColumns = []string{"seq", "time", "actor_id", "actor_email", "action", "outcome", "target", "ip", "user_agent",
	"session_id", "request_id", "details", "prev_hash", "hash"}

// ChainStatus is what verification says about an export: the tenant's chain is
// checked from its first record (or, when the oldest records expired under the
// retention policy, from the signed expiry cut after which the trail starts) through
// the newest exported one (Through).
type ChainStatus struct {
	Through int64              // the newest exported record; 0: nothing exported, nothing checked
	From    int64              // the first record checked: 1, or the one after the expiry cut
	Intact  int64              // records From to Intact verified
	Cut     *audit.Cut         // the signed expiry cut verification started from; nil: record 1
	Break   *audit.VerifyError // the first break at or before Through; nil: intact
}

// OK tells an intact chain (or an empty export).
func (s ChainStatus) OK() bool { return s.Break == nil }

// String says it in a sentence.
func (s ChainStatus) String() string {
	from := ""
	if s.Cut != nil {
		from = fmt.Sprintf(" from the expiry cut at record %d (signed %s)", s.Cut.Seq, s.Cut.Time.UTC().Format(time.RFC3339))
	}
	switch {
	case s.Through == 0:
		return "no records exported"
	case s.Break == nil:
		return fmt.Sprintf("chain intact through record %d%s", s.Through, from)
	case s.Intact < s.From:
		return fmt.Sprintf("chain BROKEN at record %d (%s): %s; no record before it is intact", s.Break.Seq, s.Break.Kind, s.Break.Reason)
	}
	return fmt.Sprintf("chain BROKEN at record %d (%s): %s; records %d to %d are intact%s", s.Break.Seq, s.Break.Kind, s.Break.Reason, s.From, s.Intact, from)
}

// Header says it in a form for machines (the HTTP export's Gatehouse-Audit-Chain
// header): "empty", "intact; through=N" or "broken; at=N; kind=K; intact=M", with
// "; from=F" after it when verification started after an expiry cut (F is the first
// record checked).
func (s ChainStatus) Header() string {
	from := ""
	if s.Cut != nil {
		from = "; from=" + strconv.FormatInt(s.From, 10)
	}
	switch {
	case s.Through == 0:
		return "empty"
	case s.Break == nil:
		return "intact; through=" + strconv.FormatInt(s.Through, 10) + from
	}
	return fmt.Sprintf("broken; at=%d; kind=%s; intact=%d%s", s.Break.Seq, s.Break.Kind, s.Intact, from)
}

// ExportSummary is what an export wrote.
type ExportSummary struct {
	Format string
	Rows   int
	Chain  ChainStatus
}

// AuditExport is an export that has been checked and whose range is fixed: the
// records matching the filter up to the newest one when it started (records written
// meanwhile, its own record included, are not in it). Its chain status is known
// before anything is written, so HTTP can send it in a header.
type AuditExport struct {
	Chain  ChainStatus
	Format string

	a      Audit
	ws     store.Workspace
	by     Admin
	filter AuditFilter
	q      store.AuditQuery
	done   bool
}

// StartExport checks who asks and the filter (f's Limit is ignored: an export is
// everything that matches; Before bounds it like a page cursor), fixes the range and
// verifies the chain through its newest record. The format is "csv" (WriteCSV) or
// "pdf" (WritePDF).
func (a Audit) StartExport(ctx context.Context, ws store.Workspace, by Admin, f AuditFilter, format string) (*AuditExport, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	if a.Service == nil || a.Service.Audit == nil {
		return nil, errors.New("audit export: no audit writer to record it")
	}
	switch format = strings.ToLower(strings.TrimSpace(format)); format {
	case "csv", "pdf":
	default:
		return nil, &FieldError{Field: "format", Msg: "must be csv or pdf"}
	}
	f.Limit = ""
	q, err := f.Query()
	if err != nil {
		return nil, err
	}
	q.Limit = 1
	head, err := ws.Audit().SearchAudit(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("searching the audit trail: %w", err)
	}
	e := &AuditExport{Format: format, a: a, ws: ws, by: by, filter: f, q: q}
	if len(head) == 0 {
		e.done = true // nothing matches: a header row only
		return e, nil
	}
	e.q.BeforeSeq = head[0].Seq + 1
	e.Chain.Through = head[0].Seq
	v, err := audit.ChainOf(ws, a.Service.AuditKeys).VerifyThrough(ctx, head[0].Seq, 1000)
	e.Chain.From, e.Chain.Intact, e.Chain.Cut = v.Start.Seq+1, v.Last, v.Start.Cut
	if err != nil && !errors.As(err, &e.Chain.Break) {
		return nil, err
	}
	return e, nil
}

// WriteCSV streams the export to w as CSV (RFC 4180: CRLF line ends, UTF-8, a header
// row; every cell a spreadsheet could take for a formula defused), newest record
// first, reading ExportPage records at a time; then it records the export in the
// trail (also when writing failed part way: with outcome failure and the rows sent).
func (e *AuditExport) WriteCSV(ctx context.Context, w io.Writer) (ExportSummary, error) {
	sum := ExportSummary{Format: e.Format, Chain: e.Chain}
	err := e.writeCSV(ctx, w, &sum.Rows)
	if rerr := e.record(ctx, sum, err); rerr != nil {
		return sum, errors.Join(err, rerr)
	}
	return sum, err
}

func (e *AuditExport) writeCSV(ctx context.Context, w io.Writer, rows *int) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(AuditColumns); err != nil {
		return err
	}
	q := e.q
	q.Limit = ExportPage
	for !e.done {
		recs, err := e.ws.Audit().SearchAudit(ctx, q)
		if err != nil {
			return fmt.Errorf("reading the audit trail before record %d: %w", q.BeforeSeq, err)
		}
		for _, r := range recs {
			if err := cw.Write(csvRow(r)); err != nil {
				return err
			}
			*rows++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if len(recs) < q.Limit {
			break
		}
		q.BeforeSeq = recs[len(recs)-1].Seq
	}
	cw.Flush()
	return cw.Error()
}

// record writes the export's own audit record.
func (e *AuditExport) record(ctx context.Context, sum ExportSummary, failed error) error {
	outcome := audit.Success
	if failed != nil {
		outcome = audit.Failure
	}
	rec := audit.Event(ActionAuditExport, outcome, e.by.Actor, e.by.Origin)
	rec.Target = "tenant:" + e.ws.Slug
	rec.Details = map[string]string{"format": sum.Format, "rows": strconv.Itoa(sum.Rows), "filter": filterString(e.filter),
		"chain": sum.Chain.Header()}
	return e.a.Service.Audit.Record(context.WithoutCancel(ctx), e.ws, rec)
}

// Export is StartExport and WriteCSV in one: the CSV export of the records matching
// f, with the chain status in the summary.
func (a Audit) Export(ctx context.Context, ws store.Workspace, by Admin, f AuditFilter, w io.Writer) (ExportSummary, error) {
	e, err := a.StartExport(ctx, ws, by, f, "csv")
	if err != nil {
		return ExportSummary{}, err
	}
	return e.WriteCSV(ctx, w)
}

// csvRow is a record as a CSV row: the time in RFC 3339 UTC (with the fraction the
// chain hash covers), details as a JSON object, hashes in hex; erased personal fields
// read "(erased)".
func csvRow(r store.AuditRecord) []string {
	t := ""
	if !r.Time.IsZero() {
		t = r.Time.UTC().Format(time.RFC3339Nano)
	}
	details := r.Details
	if details == nil {
		details = map[string]string{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(details) // a map of strings always encodes
	email, ip, ua, det := r.ActorEmail, r.IP, r.UserAgent, strings.TrimSuffix(b.String(), "\n")
	if r.PIIErased {
		email, ip, ua, det = audit.ErasedMark, audit.ErasedMark, audit.ErasedMark, audit.ErasedMark
	}
	row := []string{strconv.FormatInt(r.Seq, 10), t, r.ActorID, email, r.Action, r.Outcome, r.Target, ip, ua,
		r.SessionID, r.RequestID, det, hex.EncodeToString(r.PrevHash), hex.EncodeToString(r.Hash)}
	for i := range row {
		row[i] = strings.ToValidUTF8(row[i], "\uFFFD")
	}
	return csvsafe.Row(row)
}

// filterString is the filter as the query string the page and the API take (empty
// values left out), for the export's record.
func filterString(f AuditFilter) string {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "actor": f.Actor, "action": f.Action, "outcome": f.Outcome,
		"ip": f.IP, "target": f.Target, "q": f.Text, "before": f.Before} {
		if s = strings.TrimSpace(s); s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}
