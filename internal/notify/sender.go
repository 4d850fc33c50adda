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
// It logs the recipient, the subject and the text body at info level. That is fine
// for the current kinds, which carry no secret (their links are plain page
// addresses); a future kind whose body holds a bearer secret (a reset link) must not
// go through a LogSender at info level.
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
	s.logger.Info("mail not sent: no SMTP server configured; message written to the log",
		zap.String("message_id", m.ID),
		zap.String("tenant_id", m.TenantID),
		zap.String("to", m.To),
		zap.String("subject", m.Subject),
		zap.String("text", m.Text),
		zap.Int("attempts", m.Attempts),
	)
	return nil
}
