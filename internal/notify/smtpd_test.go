package notify

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/notify/notifytest"
)

// The real SMTP server helper lives in notifytest (shared with the end-to-end tests).

func requireSMTPD(t *testing.T) { notifytest.RequireSMTPD(t) }
func freePort(t *testing.T) int { return notifytest.FreePort(t) }

// startSMTPD starts a real server on port, or on a port of the kernel's choice when
// port is 0 (see Port).
func startSMTPD(t *testing.T, port int) *notifytest.SMTPD { return notifytest.StartSMTPD(t, port) }
