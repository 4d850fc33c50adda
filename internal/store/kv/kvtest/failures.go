package kvtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// failureTests check how a store reports that it cannot answer: an error wrapping
// kv.ErrUnavailable, never a zero value or ErrNotFound that a caller would take for
// "no failures counted" or "already used".
var failureTests = []test{
	{"CancelledContext", func(t *testing.T, _ *suite, st kv.Store) {
		must(t, st.SetInt(ctx, "n", 3, time.Minute))
		must(t, st.Put(ctx, "n:blob", []byte("x"), time.Minute))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		for _, c := range CallEach(cctx, st, "n") {
			if !errors.Is(c.Err, kv.ErrUnavailable) || !errors.Is(c.Err, context.Canceled) {
				t.Errorf("%s with a cancelled context = %v; want an error wrapping ErrUnavailable and context.Canceled", c.Op, c.Err)
			}
		}
		// Nothing was consumed.
		mustInt(t, st, "n", 3)
		got, err := st.Take(ctx, "n:blob")
		if err != nil || string(got) != "x" {
			t.Fatalf("Take after the cancelled calls = %q, %v; want %q", got, err, "x")
		}
	}},
	{"Closed", func(t *testing.T, s *suite, _ kv.Store) {
		st := s.open(t)
		must(t, st.Close())
		for _, c := range CallEach(ctx, st, "n") {
			if !errors.Is(c.Err, kv.ErrUnavailable) {
				t.Errorf("%s on a closed store = %v; want an error wrapping ErrUnavailable", c.Op, c.Err)
			}
		}
	}},
}

// Call is the outcome of one operation made by CallEach.
type Call struct {
	Op      string // "Incr", "GetInt", …
	Err     error
	Elapsed time.Duration
}

// CallEach calls every kv.Store operation once, one after another, and reports each
// error and how long it took: the check that a dead backend fails every operation,
// and fails it fast. It uses the counter key, and key+":blob" for Put and Take. On a
// healthy store it changes both keys.
func CallEach(ctx context.Context, st kv.Store, key string) []Call {
	blob := key + ":blob"
	ops := []struct {
		name string
		fn   func() error
	}{
		{"Incr", func() error { _, err := st.Incr(ctx, key, time.Minute); return err }},
		{"GetInt", func() error { _, err := st.GetInt(ctx, key); return err }},
		{"SetInt", func() error { return st.SetInt(ctx, key, 1, time.Minute) }},
		{"TTL", func() error { _, err := st.TTL(ctx, key); return err }},
		{"Put", func() error { return st.Put(ctx, blob, []byte("x"), time.Minute) }},
		{"Take", func() error { _, err := st.Take(ctx, blob); return err }},
		{"Del", func() error { return st.Del(ctx, key, blob) }},
		{"Ping", func() error { return st.Ping(ctx) }},
	}
	calls := make([]Call, 0, len(ops))
	for _, op := range ops {
		start := time.Now()
		err := op.fn()
		calls = append(calls, Call{Op: op.name, Err: err, Elapsed: time.Since(start)})
	}
	return calls
}
