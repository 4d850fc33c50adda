package notify

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/notify/notifytest"
)

// The real SMTP server helper lives in notifytest (shared with the end-to-end tests).

func requireSMTPD(t *testing.T) { notifytest.RequireSMTPD(t) }
func freePort(t *testing.T) int { return notifytest.FreePort(t) }
func startSMTPD(t *testing.T, port int) *smtpdProcess {
	return &smtpdProcess{notifytest.StartSMTPD(t, port)}
}

type smtpdProcess struct{ *notifytest.SMTPD }

func (s *smtpdProcess) waitMessage(t *testing.T) string { return s.WaitMessage(t) }
