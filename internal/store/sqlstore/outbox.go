package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Outbox is the durable mail outbox (notify.Outbox) in the store's database. It is
// not bound to a tenant: one worker drains the mail of every tenant, and each message
// carries its TenantID. Sent messages are deleted at once; undelivered ones when
// DropExpired finds them older than the mail retention.
//
// Claims are leases recorded in the row (claimed_until), so several gateway
// processes sharing the database can drain one outbox: ClaimDue is a single
// UPDATE ... RETURNING whose candidate rows are locked with FOR UPDATE SKIP LOCKED on
// PostgreSQL, and which runs under SQLite's IMMEDIATE write transaction (the database
// write lock) on SQLite. Either way no message is handed to two claimers within
// its lease.
type Outbox struct{ s *Store }

// Outbox returns the store's mail outbox.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

// Compile-time check that Outbox is a notify.Outbox.
var _ notify.Outbox = (*Outbox)(nil)

const outboxColumns = `id, tenant_id, recipient, subject, text_body, html_body, created_at, next_attempt, attempts, last_error`

// outboxTime encodes created_at and next_attempt, which are NOT NULL so that the due
// scan and its order are one index range on both databases (which disagree on where
// NULL sorts): the zero time (for next_attempt: due at once) is the smallest int64,
// before every real time.
func outboxTime(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// outboxTimeOf reverses outboxTime.
func outboxTimeOf(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Enqueue stores m, unclaimed, with m.Attempts and m.LastError as given (a new
// message has neither). An ID already in the outbox is notify.ErrDuplicateMessage.
// Text fields are stored as cleanText leaves them (PostgreSQL refuses invalid UTF-8
// and NUL bytes; SQLite is made to agree).
func (o *Outbox) Enqueue(ctx context.Context, m notify.Message) error {
	if m.ID == "" {
		return errors.New("sqlstore: outbox message without an id")
	}
	if m.Attempts < 0 {
		return errors.New("sqlstore: outbox message with negative attempts")
	}
	_, err := o.s.exec(ctx, `INSERT INTO mail_outbox (`+outboxColumns+`, claimed_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		m.ID, m.TenantID, cleanText(m.To), cleanText(m.Subject), cleanText(m.Text), cleanText(m.HTML),
		outboxTime(m.CreatedAt), outboxTime(m.NextAttempt), int64(m.Attempts), cleanText(m.LastError))
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", notify.ErrDuplicateMessage, err)
	}
	return err
}

// ClaimDue claims up to max due, unclaimed (or lease-expired) messages until
// now+lease, oldest NextAttempt first, incrementing their Attempts, and returns them
// in that order.
func (o *Outbox) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]notify.Message, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	s := o.s
	at := outboxTime(now)
	until := outboxTime(now.Add(lease))
	// The candidate rows: due, and not under a live lease. A lease that ends exactly
	// at now has ended.
	candidates := `SELECT id FROM mail_outbox
		WHERE next_attempt <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
		ORDER BY next_attempt, created_at, id LIMIT ?`
	var out []notify.Message
	var err error
	switch s.dialect {
	case postgresDialect:
		// One statement, so one transaction. FOR UPDATE SKIP LOCKED: a concurrent
		// claimer's rows are skipped rather than waited for; a row whose claim
		// committed meanwhile is re-checked against the WHERE clause after the lock
		// (READ COMMITTED), sees the new claimed_until and drops out.
		out, err = o.claim(ctx, s.db, `UPDATE mail_outbox SET claimed_until = ?, attempts = attempts + 1
			WHERE id IN (`+candidates+` FOR UPDATE SKIP LOCKED)
			RETURNING `+outboxColumns, until, at, at, max)
	default:
		// BEGIN IMMEDIATE holds the database write lock from the start, so no other
		// connection or process writes between the choice of rows and their claim.
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = o.claim(ctx, tx, `UPDATE mail_outbox SET claimed_until = ?, attempts = attempts + 1
				WHERE id IN (`+candidates+`)
				RETURNING `+outboxColumns, until, at, at, max)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claiming outbox messages: %w", mapErr(err))
	}
	// RETURNING lists rows in no promised order; the columns of the ORDER BY above
	// came back with them (the id column is compared byte-wise by both databases).
	slices.SortFunc(out, func(a, b notify.Message) int {
		return cmp.Or(
			cmp.Compare(outboxTime(a.NextAttempt), outboxTime(b.NextAttempt)),
			cmp.Compare(outboxTime(a.CreatedAt), outboxTime(b.CreatedAt)),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return out, nil
}

// querier is what claim needs from a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (o *Outbox) claim(ctx context.Context, q querier, query string, args ...any) ([]notify.Message, error) {
	rows, err := q.QueryContext(ctx, o.s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notify.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanMessage(sc scanner) (notify.Message, error) {
	var m notify.Message
	var created, next, attempts int64
	err := sc.Scan(&m.ID, &m.TenantID, &m.To, &m.Subject, &m.Text, &m.HTML, &created, &next, &attempts, &m.LastError)
	if err != nil {
		return notify.Message{}, err
	}
	m.CreatedAt, m.NextAttempt, m.Attempts = outboxTimeOf(created), outboxTimeOf(next), int(attempts)
	return m, nil
}

// MarkSent deletes the delivered message; notify.ErrMessageNotFound if it is not in
// the outbox (never enqueued, or sent already).
func (o *Outbox) MarkSent(ctx context.Context, id string, _ time.Time) error {
	res, err := o.s.exec(ctx, `DELETE FROM mail_outbox WHERE id = ?`, id)
	return outboxOne(res, err)
}

// MarkFailed records errText, releases the claim and makes the message due at next;
// notify.ErrMessageNotFound if it is not in the outbox.
func (o *Outbox) MarkFailed(ctx context.Context, id, errText string, next time.Time) error {
	res, err := o.s.exec(ctx, `UPDATE mail_outbox SET last_error = ?, next_attempt = ?, claimed_until = NULL WHERE id = ?`,
		cleanText(errText), outboxTime(next), id)
	return outboxOne(res, err)
}

// outboxOne maps a statement that should have changed one row by id.
func outboxOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	one, err := affectedOne(res)
	if err != nil {
		return mapErr(err)
	}
	if !one {
		return notify.ErrMessageNotFound
	}
	return nil
}

// Depth counts the messages not yet sent, claimed or not.
func (o *Outbox) Depth(ctx context.Context) (int, error) {
	var n int
	err := o.s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM mail_outbox`).Scan(&n)
	return n, mapErr(err)
}

// DropExpired deletes the messages created before before whose claim (if any) ended
// by now. A claim ends exactly at claimed_until, as in ClaimDue.
func (o *Outbox) DropExpired(ctx context.Context, before, now time.Time) (int, error) {
	res, err := o.s.exec(ctx, `DELETE FROM mail_outbox WHERE created_at < ? AND (claimed_until IS NULL OR claimed_until <= ?)`,
		outboxTime(before), outboxTime(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: dropping expired mail: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}

// MailOutbox is Outbox as a notify.Outbox, for the conformance suite
// (storetest.MailOutbox): a purge must take a member's mail out of it.
func (s *Store) MailOutbox() notify.Outbox { return s.Outbox() }
