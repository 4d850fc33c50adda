package kvtest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// expiryTests check that keys vanish at their TTL. With WithAdvance they move the
// backend's clock to either side of the deadline; on real time they use a TTL of
// 1.1 s and poll, which is long enough for Redis's millisecond expiry to be exact
// and short enough to keep the suite quick.
var expiryTests = []test{
	{"KeysExpire", func(t *testing.T, s *suite, st kv.Store) {
		ttl := 2 * time.Second
		if s.advance == nil {
			ttl = 1100 * time.Millisecond
		}
		start := time.Now()
		must(t, st.Put(ctx, "b", []byte("x"), ttl))
		must(t, st.SetInt(ctx, "s", 7, ttl))
		mustIncr(t, st, "i", ttl, 1)
		if !allPresent(t, st) {
			t.Fatal("keys missing right after they were written")
		}
		if s.advance != nil {
			s.advance(ttl - time.Millisecond)
			if !allPresent(t, st) {
				t.Fatal("keys missing 1ms before their TTL")
			}
			s.advance(2 * time.Millisecond)
			if !allGone(t, st) {
				t.Fatal("keys still present 1ms after their TTL")
			}
		} else {
			for !allGone(t, st) {
				if time.Since(start) > ttl+3*time.Second {
					t.Fatalf("keys still present %s after being written with TTL %s", time.Since(start), ttl)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if el := time.Since(start); el < ttl {
				t.Fatalf("keys gone after %s, before their TTL %s", el, ttl)
			}
		}
		// An expired counter starts over, with the new TTL.
		mustIncr(t, st, "i", time.Minute, 1)
		mustTTLIn(t, st, "i", ttl, time.Minute)
	}},
}

// movedClockTests need WithAdvance. Counters/IncrKeepsFirstTTL checks the same
// on real time, less precisely.
var movedClockTests = []test{
	{"IncrWindowDoesNotSlide", func(t *testing.T, s *suite, st kv.Store) {
		mustIncr(t, st, "c", time.Minute, 1)
		s.advance(40 * time.Second)
		mustIncr(t, st, "c", time.Minute, 2)
		mustTTLIn(t, st, "c", 19*time.Second, 20*time.Second)
		s.advance(20 * time.Second)
		mustInt(t, st, "c", 0)
	}},
}

// allPresent reports whether the keys written by KeysExpire are all still there,
// without consuming the blob.
func allPresent(t *testing.T, st kv.Store) bool {
	t.Helper()
	b, err := st.TTL(ctx, "b")
	must(t, err)
	s, err := st.GetInt(ctx, "s")
	must(t, err)
	i, err := st.GetInt(ctx, "i")
	must(t, err)
	return b > 0 && s == 7 && i == 1
}

// allGone reports whether every key written by KeysExpire has expired. It looks
// without consuming the blob, and confirms with Take only once the blob has no TTL
// left.
func allGone(t *testing.T, st kv.Store) bool {
	t.Helper()
	s, err := st.GetInt(ctx, "s")
	must(t, err)
	i, err := st.GetInt(ctx, "i")
	must(t, err)
	if mustTTL(t, st, "b") > 0 || s != 0 || i != 0 {
		return false
	}
	mustNotFound(t, st, "b")
	return true
}
