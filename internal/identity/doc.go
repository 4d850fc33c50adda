// Package identity holds what Gatehouse knows about people: role names, the password
// rules and hashing, and the identity headers it hands to the upstream — including
// the unconditional removal of every client-sent spelling of them, and of the other
// identity headers apps behind proxies commonly trust (Stripper).
package identity
