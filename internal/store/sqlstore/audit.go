package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditStore is one tenant's audit trail. There is no update or delete here, and the
// database refuses both (triggers in migration 2).
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

const auditColumns = `tenant_id, seq, time, actor_id, actor_email, action, target, outcome, ip, user_agent, session_id, request_id, details, prev_hash, hash`

// Append links r to the tenant's chain and stores it, all in one transaction that
// holds the tenant's append lock: PostgreSQL takes a per-tenant advisory lock; SQLite's
// BEGIN IMMEDIATE holds the database write lock. Reading the head and inserting after
// it is therefore atomic across goroutines, connections and processes.
func (as auditStore) Append(ctx context.Context, r store.AuditRecord, hash func(store.AuditRecord) []byte) (store.AuditRecord, error) {
	if hash == nil {
		return store.AuditRecord{}, errors.New("sqlstore: audit append without a hash function")
	}
	r = normaliseAudit(r, as.tenantID)
	details := mapArg(r.Details)
	var err error
	for range appendAttempts {
		var out store.AuditRecord
		err = as.s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = as.appendTx(ctx, tx, r, details, hash)
			return err
		})
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	return store.AuditRecord{}, fmt.Errorf("sqlstore: appending audit record: %w", err)
}

func (as auditStore) appendTx(ctx context.Context, tx *sql.Tx, r store.AuditRecord, details string, hash func(store.AuditRecord) []byte) (store.AuditRecord, error) {
	s := as.s
	if s.dialect == postgresDialect {
		// Released at commit or rollback. hashtext collisions between tenants only
		// make their appends wait for each other.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, auditLockClass, as.tenantID); err != nil {
			return r, err
		}
	}
	var last int64
	var prev []byte
	err := tx.QueryRowContext(ctx, s.q(`SELECT seq, hash FROM audit_log WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1`), as.tenantID).Scan(&last, &prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		last, prev = 0, make([]byte, sha256.Size)
	case err != nil:
		return r, err
	}
	r.Seq, r.PrevHash = last+1, prev
	r.Hash = hash(r)
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO audit_log (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.TenantID, r.Seq, timeArg(r.Time), r.ActorID, r.ActorEmail, r.Action, r.Target, r.Outcome,
		r.IP, r.UserAgent, r.SessionID, r.RequestID, details, r.PrevHash, r.Hash)
	return r, err
}

// normaliseAudit puts r in exactly the form ListAudit will return it, before it is
// hashed; otherwise a record could hash differently when re-read for verification:
// the handle's tenant id, UTC time without a monotonic reading, text the database can
// hold unchanged, and nil for empty details.
func normaliseAudit(r store.AuditRecord, tenantID string) store.AuditRecord {
	r.TenantID = tenantID
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
			&r.IP, &r.UserAgent, &r.SessionID, &r.RequestID, &details, &r.PrevHash, &r.Hash); err != nil {
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

// Interface guards
var _ store.AuditStore = auditStore{}
