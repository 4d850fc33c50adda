package notify

import (
	"context"

	"go.uber.org/zap"
)

// Sender delivers one rendered message. An error means "not delivered, try again
// later"; the Worker records it and backs off.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// LogSender writes messages to a logger instead of sending them: the sender when no
// SMTP server is configured, so that development setups and tests still see every
// alert.
//
// It logs the recipient, the subject and the text body at warn level. Invitations and
// password resets carry one-time links, so without SMTP those links sit in the log —
// the only way a development setup gets them, and a reason to configure SMTP (or hand
// links over with the CLI) in production, where whoever reads the log could use them
// while they are live.
type LogSender struct {
	logger *zap.Logger
}

// Compile-time check that LogSender is a Sender.
var _ Sender = (*LogSender)(nil)

// NewLogSender returns a LogSender writing to logger (a no-op logger when nil).
func NewLogSender(logger *zap.Logger) *LogSender {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &LogSender{logger: logger}
}

// Send logs m and reports success.
func (s *LogSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.logger.Warn("mail not sent: no SMTP server configured; message written to the log (links in it are live)",
		zap.String("message_id", m.ID),
		zap.String("tenant_id", m.TenantID),
		zap.String("to", m.To),
		zap.String("subject", m.Subject),
		zap.String("text", m.Text),
		zap.Int("attempts", m.Attempts),
	)
	return nil
}
