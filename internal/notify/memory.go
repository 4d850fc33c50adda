package notify

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// DefaultMemoryOutboxSize bounds a MemoryOutbox built with a size <= 0.
const DefaultMemoryOutboxSize = 10_000

// MemoryOutbox is an Outbox in process memory: for tests, development and anything
// else that runs one instance and accepts losing queued mail on restart. One mutex
// makes every operation atomic, which is all ClaimDue's exclusivity needs.
//
// It is bounded, because a flood of events (an attacker locking accounts on
// purpose) must not grow memory without end while SMTP is down: past the bound
// Enqueue fails with ErrOutboxFull. Sent messages are forgotten at once.
type MemoryOutbox struct {
	max int

	mu   sync.Mutex
	msgs map[string]*memoryEntry
}

type memoryEntry struct {
	msg          Message
	claimedUntil time.Time // zero when not claimed
}

// Compile-time check that MemoryOutbox is an Outbox.
var _ Outbox = (*MemoryOutbox)(nil)

// NewMemoryOutbox returns an empty outbox that holds at most size unsent messages
// (DefaultMemoryOutboxSize when size <= 0).
func NewMemoryOutbox(size int) *MemoryOutbox {
	if size <= 0 {
		size = DefaultMemoryOutboxSize
	}
	return &MemoryOutbox{max: size, msgs: make(map[string]*memoryEntry)}
}

// Enqueue stores m.
func (o *MemoryOutbox) Enqueue(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.ID == "" {
		return errors.New("message without an id")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.msgs[m.ID]; ok {
		return ErrDuplicateMessage
	}
	if len(o.msgs) >= o.max {
		return ErrOutboxFull
	}
	o.msgs[m.ID] = &memoryEntry{msg: m}
	return nil
}

// ClaimDue claims up to max due messages until now+lease.
func (o *MemoryOutbox) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*memoryEntry
	for _, e := range o.msgs {
		if !e.msg.NextAttempt.After(now) && !e.claimedUntil.After(now) {
			due = append(due, e)
		}
	}
	slices.SortFunc(due, func(a, b *memoryEntry) int {
		return cmp.Or(
			a.msg.NextAttempt.Compare(b.msg.NextAttempt),
			a.msg.CreatedAt.Compare(b.msg.CreatedAt),
			cmp.Compare(a.msg.ID, b.msg.ID),
		)
	})
	if len(due) > max {
		due = due[:max]
	}
	out := make([]Message, len(due))
	for i, e := range due {
		e.claimedUntil = now.Add(lease)
		e.msg.Attempts++
		out[i] = e.msg
	}
	return out, nil
}

// MarkSent forgets the message.
func (o *MemoryOutbox) MarkSent(ctx context.Context, id string, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.msgs[id]; !ok {
		return ErrMessageNotFound
	}
	delete(o.msgs, id)
	return nil
}

// MarkFailed records the error and makes the message due again at next.
func (o *MemoryOutbox) MarkFailed(ctx context.Context, id, errText string, next time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.msgs[id]
	if !ok {
		return ErrMessageNotFound
	}
	e.msg.LastError = errText
	e.msg.NextAttempt = next
	e.claimedUntil = time.Time{}
	return nil
}

// Depth counts the unsent messages.
func (o *MemoryOutbox) Depth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs), nil
}

// DropExpired deletes the messages composed before before, unless claimed past now.
func (o *MemoryOutbox) DropExpired(ctx context.Context, before, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for id, e := range o.msgs {
		if e.msg.CreatedAt.Before(before) && !e.claimedUntil.After(now) {
			delete(o.msgs, id)
			n++
		}
	}
	return n, nil
}

// Pending returns a copy of the unsent messages, oldest first, for tests and
// inspection tools.
func (o *MemoryOutbox) Pending() []Message {
	o.mu.Lock()
	out := make([]Message, 0, len(o.msgs))
	for _, e := range o.msgs {
		out = append(out, e.msg)
	}
	o.mu.Unlock()
	slices.SortFunc(out, func(a, b Message) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}
