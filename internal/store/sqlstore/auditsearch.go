package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// cidrBatch is how many rows SearchAudit reads at a time when a CIDR filter, which
// SQL cannot apply to the text column, is checked in Go.
const cidrBatch = 500

// SearchAudit returns the records matching q, newest first. Every filter but the CIDR
// one is SQL; with a CIDR the rows are read in batches, newest first, and checked
// here until the page is full or the rows run out, so a page never skips a match and
// the next page (BeforeSeq = the last Seq returned) starts exactly after it.
func (as auditStore) SearchAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if q.Limit < 1 || q.Limit > store.MaxAuditSearch {
		return nil, fmt.Errorf("sqlstore: audit search limit %d outside 1..%d", q.Limit, store.MaxAuditSearch)
	}
	if q.BeforeSeq < 0 {
		return nil, fmt.Errorf("sqlstore: audit search before seq %d", q.BeforeSeq)
	}
	where, args := as.auditWhere(q)
	if !q.CIDR.IsValid() {
		return as.searchPage(ctx, where, args, q.BeforeSeq, q.Limit)
	}
	return as.searchCIDR(ctx, q, where, args, cidrBatch)
}

// searchCIDR reads the rows matching where in batches of size, newest first, and
// keeps those whose IP lies in q.CIDR until q.Limit are found.
func (as auditStore) searchCIDR(ctx context.Context, q store.AuditQuery, where string, args []any, size int) ([]store.AuditRecord, error) {
	prefix := q.CIDR.Masked()
	var out []store.AuditRecord
	for before := q.BeforeSeq; ; {
		batch, err := as.searchPage(ctx, where, args, before, size)
		if err != nil {
			return nil, err
		}
		for _, r := range batch {
			if inPrefix(prefix, r.IP) {
				out = append(out, r)
				if len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if len(batch) < size {
			return out, nil
		}
		before = batch[len(batch)-1].Seq
	}
}

// inPrefix tells whether ip (as stored: an address, IPv4-mapped or with a zone) lies
// in prefix.
func inPrefix(prefix netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return prefix.Contains(a.WithZone("").Unmap())
}

// searchPage reads up to limit rows matching where, with seq < before (0: any),
// newest first.
func (as auditStore) searchPage(ctx context.Context, where string, args []any, before int64, limit int) ([]store.AuditRecord, error) {
	s := as.s
	query := `SELECT ` + auditColumns + ` FROM audit_log WHERE ` + where
	args = args[:len(args):len(args)] // appends below never touch the caller's array
	if before > 0 {
		query += ` AND seq < ?`
		args = append(args, before)
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY seq DESC LIMIT ?`), args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanAudit(rows)
}

// auditWhere turns the SQL filters of q into a WHERE clause (without seq) and its
// arguments. LIKE patterns escape their wildcards with '!'; SQLite's LIKE ignores
// ASCII case, and PostgreSQL's ILIKE does the same.
func (as auditStore) auditWhere(q store.AuditQuery) (string, []any) {
	var b strings.Builder
	b.WriteString(`tenant_id = ?`)
	args := []any{as.tenantID}
	add := func(cond string, a ...any) {
		b.WriteString(` AND ` + cond)
		args = append(args, a...)
	}
	if !q.From.IsZero() {
		add(`time >= ?`, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		add(`time < ?`, q.To.UnixNano())
	}
	if q.ActorID != "" {
		add(`actor_id = ?`, q.ActorID)
	}
	if q.ActorEmail != "" {
		add(`lower(actor_email) = ?`, asciiLower(q.ActorEmail))
	}
	if q.ActionPrefix != "" {
		add(`substr(action, 1, ?) = ?`, utf8.RuneCountInString(q.ActionPrefix), q.ActionPrefix)
	}
	if q.Outcome != "" {
		add(`outcome = ?`, q.Outcome)
	}
	if q.IP != "" {
		add(`ip = ?`, q.IP)
	}
	if q.Target != "" {
		add(`target = ?`, q.Target)
	}
	if q.Text != "" {
		like := `LIKE`
		if as.s.dialect == postgresDialect {
			like = `ILIKE`
		}
		plain := "%" + likeEscaper.Replace(q.Text) + "%"
		// details holds JSON (mapArg): look for the text as JSON encodes it inside a
		// string, so a quote or a backslash in it matches too.
		enc, _ := json.Marshal(q.Text) // a string always marshals
		inJSON := "%" + likeEscaper.Replace(string(enc[1:len(enc)-1])) + "%"
		add(fmt.Sprintf(`(action %[1]s ? ESCAPE '!' OR target %[1]s ? ESCAPE '!' OR actor_email %[1]s ? ESCAPE '!' OR details %[1]s ? ESCAPE '!')`, like),
			plain, plain, plain, inJSON)
	}
	return b.String(), args
}

// asciiLower lower-cases ASCII letters only, as SQLite's lower() does, so that both
// backends compare e-mail addresses alike.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
