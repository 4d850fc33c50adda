package kv

import (
	"errors"
	"strings"
)

// opError is a failed Redis operation. Every failure other than a missing key wraps
// ErrUnavailable — refused, timed out, closed, but also an error reply such as
// LOADING, READONLY or NOAUTH — because for a caller they all mean "the store cannot
// answer", and security paths must then fail closed with one check.
type opError struct {
	op    string
	msg   string // the cause's text, password removed
	cause error
}

func (e *opError) Error() string { return "kv redis: " + e.op + ": " + e.msg }

// Unwrap exposes ErrUnavailable and the cause, so errors.Is also finds
// context.DeadlineExceeded and the like.
func (e *opError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// fail wraps err from operation op.
func (r *Redis) fail(op string, err error) error {
	err = scrubbedAll(err, r.secrets)
	return &opError{op: op, msg: err.Error(), cause: err}
}

// scrubbed returns err, or, when its text contains password, an error with the same
// text but the password replaced. The original is then dropped from the chain on
// purpose: a caller that logs an unwrapped cause must not leak it either.
func scrubbed(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// scrubbedAll is scrubbed for several secrets.
func scrubbedAll(err error, secrets []string) error {
	for _, s := range secrets {
		err = scrubbed(err, s)
	}
	return err
}
