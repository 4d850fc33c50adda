package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditStore is one tenant's audit trail. There is no delete here, and the only update
// is the erasure of a version-2 record's personal fields (ErasePersonal): the database
// refuses every other change (triggers in migrations 2, 15 and 17).
type auditStore handle

// auditLockClass is the first key of the PostgreSQL advisory lock that serialises a
// tenant's appends (the second key is hashtext(tenant_id)). The two-key lock space is
// separate from the one-key space of migrationLockKey. It spells "gha" (hex 676861).
const auditLockClass int32 = 0x676861

// appendAttempts bounds the retries after a lost race for a sequence number. With the
// lock below a race cannot happen; the retry is a safety net for a writer that does
// not take the lock (an older build during a rolling upgrade), and the primary key
// still guarantees that a race loses cleanly rather than forking the chain.
const appendAttempts = 3

const auditColumns = `tenant_id, seq, time, actor_id, actor_email, action, target, outcome, ip, user_agent, session_id, request_id, details, prev_hash, hash, version, pii_digest, pii_erased`

// auditInsertColumns are the columns an append writes (pii_erased starts false).
const auditInsertColumns = `tenant_id, seq, time, actor_id, actor_email, action, target, outcome, ip, user_agent, session_id, request_id, details, prev_hash, hash, version, pii_digest`

// Append links r to the tenant's chain and stores it (AppendBatch of one record).
func (as auditStore) Append(ctx context.Context, r store.AuditRecord, hash func(store.AuditRecord) []byte) (store.AuditRecord, error) {
	out, err := as.AppendBatch(ctx, []store.AuditRecord{r}, hash)
	if err != nil {
		return store.AuditRecord{}, err
	}
	return out[0], nil
}

// AppendBatch links rs to the tenant's chain in order and stores them, all in one
// transaction that holds the tenant's append lock: PostgreSQL takes a per-tenant
// advisory lock; SQLite's BEGIN IMMEDIATE holds the database write lock. Reading the
// head and inserting after it is therefore atomic across goroutines, connections and
// processes, and one commit (one fsync) makes the whole batch durable: this is the
// group commit of the audit writer.
func (as auditStore) AppendBatch(ctx context.Context, rs []store.AuditRecord, hash func(store.AuditRecord) []byte) ([]store.AuditRecord, error) {
	if hash == nil {
		return nil, errors.New("sqlstore: audit append without a hash function")
	}
	if len(rs) == 0 {
		return nil, nil
	}
	in := make([]store.AuditRecord, len(rs))
	details := make([]string, len(rs))
	for i, r := range rs {
		in[i] = normaliseAudit(r, as.tenantID)
		details[i] = mapArg(in[i].Details)
	}
	var err error
	for range appendAttempts {
		out := slices.Clone(in)
		err = as.s.inTx(ctx, func(tx *sql.Tx) error {
			return as.appendTx(ctx, tx, out, details, hash)
		})
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	return nil, fmt.Errorf("sqlstore: appending %d audit records: %w", len(rs), err)
}

// appendTx chains rs (filled in place) after the tenant's head and inserts them.
func (as auditStore) appendTx(ctx context.Context, tx *sql.Tx, rs []store.AuditRecord, details []string, hash func(store.AuditRecord) []byte) error {
	s := as.s
	if s.dialect == postgresDialect {
		// Released at commit or rollback. hashtext collisions between tenants only
		// make their appends wait for each other.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, auditLockClass, as.tenantID); err != nil {
			return err
		}
	}
	var last int64
	var prev []byte
	err := tx.QueryRowContext(ctx, s.q(`SELECT seq, hash FROM audit_log WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1`), as.tenantID).Scan(&last, &prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		last, prev = 0, make([]byte, sha256.Size)
	case err != nil:
		return err
	}
	for i := range rs {
		r := &rs[i]
		r.Seq, r.PrevHash = last+1, prev
		r.Hash = hash(*r)
		last, prev = r.Seq, r.Hash
	}
	// Multi-row INSERTs: one round trip per auditInsertRows records.
	for start := 0; start < len(rs); start += auditInsertRows {
		chunk := rs[start:min(start+auditInsertRows, len(rs))]
		var q strings.Builder
		q.WriteString(`INSERT INTO audit_log (` + auditInsertColumns + `) VALUES `)
		args := make([]any, 0, len(chunk)*17)
		for i := range chunk {
			r := &chunk[i]
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, r.TenantID, r.Seq, timeArg(r.Time), r.ActorID, r.ActorEmail, r.Action, r.Target, r.Outcome,
				r.IP, r.UserAgent, r.SessionID, r.RequestID, details[start+i], r.PrevHash, r.Hash, r.Version, r.PIIDigest)
		}
		if _, err := tx.ExecContext(ctx, s.q(q.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// auditInsertRows is how many records one INSERT statement carries (17 parameters
// each: well under the limits of SQLite and PostgreSQL).
const auditInsertRows = 200

// normaliseAudit puts r in exactly the form ListAudit will return it, before it is
// hashed; otherwise a record could hash differently when re-read for verification:
// the handle's tenant id, UTC time without a monotonic reading, text the database can
// hold unchanged, nil for empty details and digest, version 1 for 0, not erased.
func normaliseAudit(r store.AuditRecord, tenantID string) store.AuditRecord {
	r.TenantID = tenantID
	if r.Version == 0 {
		r.Version = 1
	}
	if len(r.PIIDigest) == 0 {
		r.PIIDigest = nil
	}
	r.PIIErased = false
	if !r.Time.IsZero() {
		r.Time = r.Time.UTC()
	}
	for _, f := range []*string{&r.ActorID, &r.ActorEmail, &r.Action, &r.Target, &r.Outcome,
		&r.IP, &r.UserAgent, &r.SessionID, &r.RequestID} {
		*f = cleanText(*f)
	}
	if len(r.Details) == 0 {
		r.Details = nil
	} else {
		d := make(map[string]string, len(r.Details))
		for k, v := range r.Details {
			// Cleaning may merge two keys; the later one wins, and the hash covers
			// what is stored, so the chain still verifies.
			d[cleanText(k)] = cleanText(v)
		}
		r.Details = d
	}
	return r
}

// ListAudit returns up to limit records after afterSeq, in sequence order; limit <= 0
// returns none.
func (as auditStore) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]store.AuditRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	s := as.s
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+auditColumns+` FROM audit_log
		WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`), as.tenantID, afterSeq, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanAudit(rows)
}

// scanAudit reads audit_log rows of auditColumns and closes them.
func scanAudit(rows *sql.Rows) ([]store.AuditRecord, error) {
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var t sql.NullInt64
		var details string
		if err := rows.Scan(&r.TenantID, &r.Seq, &t, &r.ActorID, &r.ActorEmail, &r.Action, &r.Target, &r.Outcome,
			&r.IP, &r.UserAgent, &r.SessionID, &r.RequestID, &details, &r.PrevHash, &r.Hash,
			&r.Version, &r.PIIDigest, &r.PIIErased); err != nil {
			return nil, mapErr(err)
		}
		r.Time = timeOf(t)
		var err error
		if r.Details, err = mapOf("audit_log.details", details); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// ErasePersonal empties the personal fields of the user's version-2 records in one
// statement (atomic on both backends), after counting the version-1 records it has to
// keep, in the same transaction.
func (as auditStore) ErasePersonal(ctx context.Context, userID string) (store.AuditErasure, error) {
	if userID == "" {
		return store.AuditErasure{}, errors.New("sqlstore: erasing personal audit data without a user id")
	}
	var out store.AuditErasure
	target := "user:" + userID
	err := as.s.inTx(ctx, func(tx *sql.Tx) error {
		s := as.s
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM audit_log
			WHERE tenant_id = ? AND version = 1 AND (actor_id = ? OR target = ?)`), as.tenantID, userID, target).Scan(&out.Kept); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE audit_log
			SET actor_email = '', ip = '', user_agent = '', details = '{}', pii_erased = TRUE
			WHERE tenant_id = ? AND version = 2 AND pii_erased = FALSE AND (actor_id = ? OR target = ?)`), as.tenantID, userID, target)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		out.Erased = int(n)
		return err
	})
	if err != nil {
		return store.AuditErasure{}, fmt.Errorf("sqlstore: erasing personal audit data: %w", err)
	}
	return out, nil
}

// Interface guards
var _ store.AuditStore = auditStore{}
