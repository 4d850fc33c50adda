package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Notifier is what the rest of Gatehouse calls to e-mail a user: it renders the
// message now and leaves it in the outbox, so the caller never waits for SMTP and
// an outage loses nothing.
type Notifier struct {
	templates *Templates
	outbox    Outbox
	clock     clock.Clock
	kick      func()
}

// NewNotifier returns a Notifier rendering with t (DefaultTemplates when nil),
// enqueueing in outbox, and calling kick after each Enqueue (usually Worker.Kick;
// nil when no worker runs in this process). A nil clk means the wall clock.
func NewNotifier(t *Templates, outbox Outbox, clk clock.Clock, kick func()) *Notifier {
	if t == nil {
		t = DefaultTemplates()
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Notifier{templates: t, outbox: outbox, clock: clk, kick: kick}
}

// Notify renders kind with data for the recipient to (a bare address) of tenantID
// and enqueues it, due at once. It returns the message's outbox id.
func (n *Notifier) Notify(ctx context.Context, tenantID, to, kind string, data any) (string, error) {
	addr, err := mail.ParseAddress(to)
	if err != nil || addr.Name != "" || addr.Address != to {
		return "", fmt.Errorf("mail recipient %q is not a bare address", to)
	}
	if tenantID == "" {
		return "", errors.New("mail without a tenant")
	}
	subject, text, html, err := n.templates.Render(kind, data)
	if err != nil {
		return "", err
	}
	now := n.clock.Now()
	m := Message{
		ID:          secret.NewID(),
		TenantID:    tenantID,
		To:          to,
		Subject:     subject,
		Text:        text,
		HTML:        html,
		CreatedAt:   now,
		NextAttempt: now,
	}
	if err := n.outbox.Enqueue(ctx, m); err != nil {
		return "", fmt.Errorf("enqueueing %s mail: %w", kind, err)
	}
	if n.kick != nil {
		n.kick()
	}
	return m.ID, nil
}
