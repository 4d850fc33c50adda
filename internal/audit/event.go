package audit

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Origin is where an action came from, as a record keeps it.
type Origin struct {
	IP, UserAgent, RequestID string
}

// Actor is who acted: a user (with the session they used) or a system actor such as
// the CLI. The use cases fill it in; the HTTP layer never builds records.
type Actor struct {
	UserID, Email, SessionID string
}

// CLI is the actor of command-line actions (an operator on the gateway's host).
var CLI = Actor{UserID: "cli"}

// System is the actor of what the gateway does by itself (first-run setup link).
var System = Actor{UserID: "system"}

// Event starts a record of action with outcome by a from o; the caller adds target and
// details.
func Event(action, outcome string, a Actor, o Origin) store.AuditRecord {
	return store.AuditRecord{
		Action: action, Outcome: outcome,
		ActorID: a.UserID, ActorEmail: a.Email, SessionID: a.SessionID,
		IP: o.IP, UserAgent: o.UserAgent, RequestID: o.RequestID,
	}
}

// UserTarget names a user as a record's target.
func UserTarget(id string) string {
	if id == "" {
		return ""
	}
	return "user:" + id
}

// Clip cuts client-supplied text (an e-mail as typed) to n bytes of valid UTF-8 before
// it goes into a record.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
