package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrNoSuchRecord: no audit record with that sequence number in this workspace.
var ErrNoSuchRecord = errors.New("no such audit record")

// Page sizes of the audit search.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 200
)

// Audit is the audit search (SPEC §9), for owners and admins: the workspace's trail,
// newest first, filtered by time, actor, action, outcome, IP, target and text, and
// its export (auditexport.go).
type Audit struct {
	// Service writes the record of an export (Export needs it; Search does not).
	Service *Service
}

// AuditPage is one page of a search; Next is the cursor of the next (older) page,
// "" when there is none.
type AuditPage struct {
	Records []store.AuditRecord
	Next    string
}

// Search returns the page of records matching q, newest first. q.Limit is the page
// size (0: DefaultAuditPage; at most MaxAuditPage); q.BeforeSeq is a cursor's value
// (ParseAuditCursor).
func (Audit) Search(ctx context.Context, ws store.Workspace, by Admin, q store.AuditQuery) (AuditPage, error) {
	if !by.IsAdmin() {
		return AuditPage{}, ErrForbidden
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultAuditPage
	case q.Limit < 0 || q.Limit > MaxAuditPage:
		return AuditPage{}, &FieldError{Field: "limit", Msg: fmt.Sprintf("must be from 1 to %d", MaxAuditPage)}
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	recs, err := ws.Audit().SearchAudit(ctx, q)
	if err != nil {
		return AuditPage{}, fmt.Errorf("searching the audit trail: %w", err)
	}
	page := AuditPage{Records: recs}
	if len(recs) > limit {
		page.Records = recs[:limit]
		page.Next = strconv.FormatInt(recs[limit-1].Seq, 10)
	}
	return page, nil
}

// Record returns the record with sequence number seq, whole.
func (Audit) Record(ctx context.Context, ws store.Workspace, by Admin, seq int64) (store.AuditRecord, error) {
	if !by.IsAdmin() {
		return store.AuditRecord{}, ErrForbidden
	}
	if seq < 1 {
		return store.AuditRecord{}, ErrNoSuchRecord
	}
	recs, err := ws.Audit().SearchAudit(ctx, store.AuditQuery{BeforeSeq: seq + 1, Limit: 1})
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("reading audit record %d: %w", seq, err)
	}
	if len(recs) == 0 || recs[0].Seq != seq {
		return store.AuditRecord{}, ErrNoSuchRecord
	}
	return recs[0], nil
}

// AuditFilter is a search as typed in the page's form or the API's query: every field
// optional. From and To are dates (2006-01-02, To inclusive: the whole day) or times
// (RFC 3339, To exclusive); IP is an address or a CIDR prefix; Before is a cursor.
type AuditFilter struct {
	From, To, Actor, Action, Outcome, IP, Target, Text, Before, Limit string
}

// Query checks the filter and turns it into a store query; a value that cannot be
// used is a *FieldError naming the field (as the query parameters spell it).
func (f AuditFilter) Query() (store.AuditQuery, error) {
	var q store.AuditQuery
	var err error
	if q.From, err = filterTime("from", f.From, false); err != nil {
		return q, err
	}
	if q.To, err = filterTime("to", f.To, true); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, &FieldError{Field: "to", Msg: "must be after from"}
	}
	q.ActorEmail = strings.TrimSpace(f.Actor)
	q.ActionPrefix = strings.TrimSpace(f.Action)
	q.Target = strings.TrimSpace(f.Target)
	q.Text = strings.TrimSpace(f.Text)
	switch o := strings.TrimSpace(f.Outcome); o {
	case "", audit.Success, audit.Failure, audit.Denied:
		q.Outcome = o
	default:
		return q, &FieldError{Field: "outcome", Msg: "must be success, failure or denied"}
	}
	if ip := strings.TrimSpace(f.IP); strings.Contains(ip, "/") {
		if q.CIDR, err = netip.ParsePrefix(ip); err != nil {
			return q, &FieldError{Field: "ip", Msg: "not an IP address or CIDR prefix"}
		}
	} else if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return q, &FieldError{Field: "ip", Msg: "not an IP address or CIDR prefix"}
		}
		q.IP = a.String() // the form the gateway records
	}
	if q.BeforeSeq, err = ParseAuditCursor(f.Before); err != nil {
		return q, err
	}
	if l := strings.TrimSpace(f.Limit); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxAuditPage {
			return q, &FieldError{Field: "limit", Msg: fmt.Sprintf("must be from 1 to %d", MaxAuditPage)}
		}
		q.Limit = n
	}
	return q, nil
}

// ParseAuditCursor reads a page cursor (AuditPage.Next); "" is the first page.
func ParseAuditCursor(s string) (int64, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, &FieldError{Field: "before", Msg: "not a page cursor"}
	}
	return n, nil
}

// filterTime reads a date or an RFC 3339 time; a date as the upper bound means the
// end of that day (UTC).
func filterTime(field, s string, upper bool) (time.Time, error) {
	if s = strings.TrimSpace(s); s == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if upper {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Msg: "not a date (2006-01-02) or time (RFC 3339)"}
	}
	return t, nil
}
