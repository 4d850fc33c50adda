package kvtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// Option adapts the suite to a backend.
type Option func(*suite)

// WithAdvance gives the suite the backend's clock: advance must move the time the
// store sees forward by d. Without it the store runs on real time, and the expiry
// tests use short real TTLs (about a second) and poll.
func WithAdvance(advance func(d time.Duration)) Option {
	return func(s *suite) { s.advance = advance }
}

// WithShared gives the suite a way to open two handles on one namespace — two
// gateway instances pointed at the same Redis — and the suite checks that they
// behave as one store: shared counters, one winner among concurrent Takes.
func WithShared(open func(t *testing.T) (kv.Store, kv.Store)) Option {
	return func(s *suite) { s.shared = open }
}

type suite struct {
	open    func(t *testing.T) kv.Store
	advance func(time.Duration)
	shared  func(t *testing.T) (kv.Store, kv.Store)
}

type test struct {
	name string
	fn   func(t *testing.T, s *suite, st kv.Store)
}

// need names an option a group of tests cannot run without. Run leaves such a group
// out rather than skipping it, because in CI a skip must mean a missing service.
type need int

const (
	needsNothing need = iota
	needsClock        // WithAdvance
	needsShared       // WithShared
)

// has reports whether the suite has what n names.
func (s *suite) has(n need) bool {
	switch n {
	case needsClock:
		return s.advance != nil
	case needsShared:
		return s.shared != nil
	default:
		return true
	}
}

// Run runs the conformance suite. open is called at least once per subtest and must
// return an empty store; two stores it returns must not see each other's keys (for
// Redis: a fresh key prefix per call). The suite closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) kv.Store, opts ...Option) {
	s := &suite{open: open}
	for _, o := range opts {
		o(s)
	}
	groups := []struct {
		name  string
		needs need
		tests []test
	}{
		{"Counters", needsNothing, counterTests},
		{"Keys", needsNothing, keyTests},
		{"Blobs", needsNothing, blobTests},
		{"Expiry", needsNothing, expiryTests},
		{"MovedClock", needsClock, movedClockTests},
		{"Isolation", needsNothing, isolationTests},
		{"SharedHandles", needsShared, sharedTests},
		{"Failures", needsNothing, failureTests},
	}
	for _, g := range groups {
		if !s.has(g.needs) {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, s, s.openClosed(t))
				})
			}
		})
	}
}

// openClosed opens a store and closes it when the test ends.
func (s *suite) openClosed(t *testing.T) kv.Store {
	t.Helper()
	st := s.open(t)
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// ctx is the context of every suite call that is not about contexts.
var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustInt(t *testing.T, st kv.Store, key string, want int64) {
	t.Helper()
	got, err := st.GetInt(ctx, key)
	if err != nil {
		t.Fatalf("GetInt(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("GetInt(%q) = %d, want %d", key, got, want)
	}
}

func mustIncr(t *testing.T, st kv.Store, key string, ttl time.Duration, want int64) {
	t.Helper()
	got, err := st.Incr(ctx, key, ttl)
	if err != nil {
		t.Fatalf("Incr(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Incr(%q) = %d, want %d", key, got, want)
	}
}

func mustDecr(t *testing.T, st kv.Store, key string, want int64) {
	t.Helper()
	got, err := st.Decr(ctx, key)
	if err != nil {
		t.Fatalf("Decr(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Decr(%q) = %d, want %d", key, got, want)
	}
}

func mustTTL(t *testing.T, st kv.Store, key string) time.Duration {
	t.Helper()
	d, err := st.TTL(ctx, key)
	if err != nil {
		t.Fatalf("TTL(%q): %v", key, err)
	}
	return d
}

// mustTTLIn checks lo < TTL(key) <= hi.
func mustTTLIn(t *testing.T, st kv.Store, key string, lo, hi time.Duration) {
	t.Helper()
	if d := mustTTL(t, st, key); d <= lo || d > hi {
		t.Fatalf("TTL(%q) = %s, want in (%s, %s]", key, d, lo, hi)
	}
}

func mustNotFound(t *testing.T, st kv.Store, key string) {
	t.Helper()
	data, err := st.Take(ctx, key)
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Take(%q) = %q, %v; want ErrNotFound", key, data, err)
	}
}
