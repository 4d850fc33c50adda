package notify

import (
	"context"
	"errors"
	"time"
)

// Message is one e-mail in the outbox, already rendered: retries resend exactly what
// was composed when the event happened, even if the templates change meanwhile.
type Message struct {
	// ID names the message in the outbox and, with the sender's domain, forms its
	// Message-ID header, which stays the same across attempts.
	ID       string
	TenantID string
	// To is the single recipient, a bare address.
	To      string
	Subject string
	Text    string
	// HTML is the alternative HTML body; empty means a text-only message.
	HTML string

	// CreatedAt is when the message was composed; it is the Date header.
	CreatedAt time.Time
	// NextAttempt is the earliest time a worker may (re)try the message.
	NextAttempt time.Time
	// Attempts counts the claims so far, the current one included: ClaimDue
	// increments it, so it also counts attempts cut short by a crash.
	Attempts int
	// LastError is the error of the latest failed attempt, empty before any.
	LastError string
}

// Outbox is the durable queue the package needs from a store. Implementations must
// make ClaimDue atomic (see its comment) and pass the suite in package outboxtest.
type Outbox interface {
	// Enqueue stores a new message. An ID already in the outbox is ErrDuplicateMessage.
	Enqueue(ctx context.Context, m Message) error

	// ClaimDue atomically claims up to max unsent messages whose NextAttempt is not
	// after now and that are not claimed already (or whose claim ended before now),
	// oldest NextAttempt first. Each claimed message is hidden from every other
	// ClaimDue until now+lease and has its Attempts incremented; the returned copies
	// carry the incremented count. Two concurrent callers never receive the same
	// message.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Message, error)

	// MarkSent records delivery: the message leaves the outbox (a store may keep it
	// for a while, but it is no longer due nor counted by Depth). An unknown ID is
	// ErrMessageNotFound.
	MarkSent(ctx context.Context, id string, at time.Time) error

	// MarkFailed records a failed attempt: it sets LastError, releases the claim and
	// makes the message due again at next. An unknown ID is ErrMessageNotFound.
	MarkFailed(ctx context.Context, id, errText string, next time.Time) error

	// Depth counts the messages not yet sent, claimed or not.
	Depth(ctx context.Context) (int, error)

	// DropExpired deletes every message composed before before, delivered or not
	// (recipient, subject, bodies and last error go with it), except one under a
	// claim still live at now: its send is under way, and a later call takes it. It
	// returns how many it deleted. This is the mail retention: no address or body
	// stays in the outbox longer than that (SPEC §10).
	DropExpired(ctx context.Context, before, now time.Time) (int, error)
}

var (
	// ErrDuplicateMessage: Enqueue was given an ID that is already in the outbox.
	ErrDuplicateMessage = errors.New("message id already in the outbox")
	// ErrMessageNotFound: MarkSent or MarkFailed named a message the outbox does not
	// hold (never enqueued, or already sent).
	ErrMessageNotFound = errors.New("message not in the outbox")
	// ErrOutboxFull: a bounded outbox (MemoryOutbox) refused a new message.
	ErrOutboxFull = errors.New("outbox full")
)
