package web

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditPages is the audit search (admin.Audit): a page with a filter form, one
// record's page, and the same search as JSON.
type auditPages struct{ *Portal }

// auditFilterOf reads the search from the query string (the page's GET form and the
// API use the same parameters).
func auditFilterOf(r *http.Request) admin.AuditFilter {
	v := r.URL.Query()
	return admin.AuditFilter{From: v.Get("from"), To: v.Get("to"), Actor: v.Get("actor"), Action: v.Get("action"),
		Outcome: v.Get("outcome"), IP: v.Get("ip"), Target: v.Get("target"), Text: v.Get("q"), Before: v.Get("before"),
		Limit: v.Get("limit")}
}

// values is the filter as query parameters, without the cursor; empty ones left out.
func auditValues(f admin.AuditFilter) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "actor": f.Actor, "action": f.Action, "outcome": f.Outcome,
		"ip": f.IP, "target": f.Target, "q": f.Text, "limit": f.Limit} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// auditView is what audit.html shows.
type auditView struct {
	Filter  admin.AuditFilter
	Records []store.AuditRecord
	Older   string // the next (older) page with the same filter; "" when none
	Newest  string // the first page with the same filter, when this is a later one
	CSV     string // the CSV download of every record the filter matches
	PDF     string // the same as a PDF document
}

// auditPage: GET /admin/audit?from=&to=&actor=&action=&outcome=&ip=&target=&q=&before=.
// A value that cannot be used comes back as the form with the field named (400).
func (p auditPages) auditPage(c *call) error {
	f := auditFilterOf(c.r)
	info := pageInfo{Title: "Audit trail", Nav: "audit", Wide: true}
	view := auditView{Filter: f, CSV: p.path("/admin/audit/export.csv"), PDF: p.path("/admin/audit/export.pdf")}
	if v := auditValues(f); len(v) > 0 {
		v.Del("limit") // an export has no pages
		if len(v) > 0 {
			view.CSV += "?" + v.Encode()
			view.PDF += "?" + v.Encode()
		}
	}
	q, err := f.Query()
	if err == nil {
		var page admin.AuditPage
		page, err = admin.Audit{}.Search(c.r.Context(), c.Workspace, p.adminOf(c), q)
		view.Records = page.Records
		base := p.path("/admin/audit")
		if v := auditValues(f); page.Next != "" {
			v.Set("before", page.Next)
			view.Older = base + "?" + v.Encode()
		}
		if f.Before != "" {
			view.Newest = base
			if v := auditValues(f).Encode(); v != "" {
				view.Newest += "?" + v
			}
		}
	}
	status := http.StatusOK
	if err != nil {
		var fe *admin.FieldError
		if !errors.As(err, &fe) {
			return err
		}
		status, info.Error = http.StatusBadRequest, fe.Error()
	}
	p.render(c, status, "audit", info, view)
	return nil
}

// auditRecordPage: GET /admin/audit/{seq}, every field of one record.
func (p auditPages) auditRecordPage(c *call) error {
	r, err := p.record(c)
	if err != nil {
		return err
	}
	p.render(c, http.StatusOK, "audit_record", pageInfo{Title: "Audit record " + strconv.FormatInt(r.Seq, 10), Nav: "audit", Wide: true},
		auditRecordJSON(r))
	return nil
}

func (p auditPages) record(c *call) (store.AuditRecord, error) {
	seq, err := strconv.ParseInt(c.r.PathValue("seq"), 10, 64)
	if err != nil {
		return store.AuditRecord{}, admin.ErrNoSuchRecord
	}
	return admin.Audit{}.Record(c.r.Context(), c.Workspace, p.adminOf(c), seq)
}

// apiAudit: GET /api/v1/admin/audit with the page's parameters (and limit) →
// {"records": [...], "next": "<cursor or empty>"}.
func (p auditPages) apiAudit(c *call) error {
	q, err := auditFilterOf(c.r).Query()
	if err != nil {
		return err
	}
	page, err := admin.Audit{}.Search(c.r.Context(), c.Workspace, p.adminOf(c), q)
	if err != nil {
		return err
	}
	recs := make([]map[string]any, len(page.Records))
	for i, r := range page.Records {
		recs[i] = auditRecordJSON(r)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"records": recs, "next": page.Next})
	return nil
}

// apiAuditRecord: GET /api/v1/admin/audit/{seq} → one record.
func (p auditPages) apiAuditRecord(c *call) error {
	r, err := p.record(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, auditRecordJSON(r))
	return nil
}

// auditRecordJSON is a record as the API shows it (and the record page lists it):
// times in RFC 3339 with nanoseconds, hashes in hex; pii_erased tells that the
// personal fields (actor_email, ip, user_agent, details) were erased, not empty.
func auditRecordJSON(r store.AuditRecord) map[string]any {
	t := ""
	if !r.Time.IsZero() {
		t = r.Time.UTC().Format(time.RFC3339Nano)
	}
	details := r.Details
	if details == nil {
		details = map[string]string{}
	}
	return map[string]any{"seq": r.Seq, "time": t, "actor_id": r.ActorID, "actor_email": r.ActorEmail, "action": r.Action,
		"target": r.Target, "outcome": r.Outcome, "ip": r.IP, "user_agent": r.UserAgent, "session_id": r.SessionID,
		"request_id": r.RequestID, "details": details, "prev_hash": hex.EncodeToString(r.PrevHash), "hash": hex.EncodeToString(r.Hash),
		"pii_erased": r.PIIErased}
}

// auditExportCSV: GET /admin/audit/export.csv with the page's filter: the matching
// records as a CSV download (admin.AuditExport). Like the review's CSV, a link on
// another site does not start it.
func (p auditPages) auditExportCSV(c *call) error {
	if crossSite(c.r) {
		return errCrossSite()
	}
	return p.export(c, "csv")
}

// auditExportPDF: GET /admin/audit/export.pdf with the page's filter: the same
// records as a PDF document (at most admin.MaxPDFRows of them).
func (p auditPages) auditExportPDF(c *call) error {
	if crossSite(c.r) {
		return errCrossSite()
	}
	return p.export(c, "pdf")
}

// apiAuditExport: GET /api/v1/admin/audit/export?format=csv&<the search's
// parameters> (format defaults to csv; pdf gives an application/pdf document).
func (p auditPages) apiAuditExport(c *call) error {
	format := c.r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	return p.export(c, format)
}

// AuditChainHeader carries the chain status of an export's range
// (admin.ChainStatus.Header: "empty", "intact; through=N" or
// "broken; at=N; kind=K; intact=M"). It is computed before the first byte is sent,
// so it is an ordinary header rather than a trailer.
const AuditChainHeader = "Gatehouse-Audit-Chain"

// export checks the export and verifies the chain (errors still get their status),
// then streams it. A failure while streaming cannot change the status any more: the
// response is cut off, so the client sees an incomplete download, not a short file.
func (p auditPages) export(c *call, format string) error {
	ex, err := admin.Audit{Service: p.Admin}.StartExport(c.r.Context(), c.Workspace, p.adminOf(c), auditFilterOf(c.r), format)
	if err != nil {
		return err
	}
	h := c.w.Header()
	name := `attachment; filename="audit-` + fileSafe(c.Workspace.Slug) + "-" + p.Clock.Now().UTC().Format("20060102T150405Z")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(AuditChainHeader, ex.Chain.Header())
	if ex.Format == "pdf" {
		// A PDF is laid out in memory anyway: build it before the status, so a
		// refusal (too many records) or a failure still gets its own.
		var doc bytes.Buffer
		if _, err := ex.WritePDF(c.r.Context(), &doc); err != nil {
			return err
		}
		h.Set("Content-Type", "application/pdf")
		h.Set("Content-Disposition", name+`.pdf"`)
		h.Set("Content-Length", strconv.Itoa(doc.Len()))
		c.w.WriteHeader(http.StatusOK)
		_, _ = doc.WriteTo(c.w)
		return nil
	}
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", name+`.csv"`)
	c.w.WriteHeader(http.StatusOK)
	if _, err := ex.WriteCSV(c.r.Context(), c.w); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}
