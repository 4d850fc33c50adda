package kvtest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// isolationTests check that stores do not see each other's keys (two Redis key
// prefixes on one server are two stores), and, with WithShared, that two handles
// on one namespace behave as one store.
var isolationTests = []test{
	{"StoresAreSeparate", func(t *testing.T, s *suite, a kv.Store) {
		b := s.openClosed(t)
		must(t, a.SetInt(ctx, "n", 5, time.Minute))
		must(t, a.Put(ctx, "blob", []byte("a's"), time.Minute))
		mustInt(t, b, "n", 0)
		if d := mustTTL(t, b, "n"); d != 0 {
			t.Fatalf("TTL seen through the other store = %s, want 0", d)
		}
		mustNotFound(t, b, "blob")
		mustIncr(t, b, "n", time.Minute, 1)
		must(t, b.Del(ctx, "n", "blob"))
		mustInt(t, a, "n", 5)
		mustIncr(t, a, "n", time.Minute, 6)
		got, err := a.Take(ctx, "blob")
		must(t, err)
		if string(got) != "a's" {
			t.Fatalf("Take = %q, want %q", got, "a's")
		}
	}},
}

// sharedTests need WithShared.
var sharedTests = []test{
	{"ActAsOne", func(t *testing.T, s *suite, _ kv.Store) {
		a, b := s.shared(t)
		t.Cleanup(func() {
			if err := errors.Join(a.Close(), b.Close()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		mustIncr(t, a, "n", time.Minute, 1)
		mustIncr(t, b, "n", time.Minute, 2)
		mustTTLIn(t, b, "n", 0, time.Minute)
		must(t, b.Put(ctx, "blob", []byte("x"), time.Minute))
		if _, err := a.Take(ctx, "blob"); err != nil {
			t.Fatalf("Take of a value put through the other handle: %v", err)
		}
		mustNotFound(t, b, "blob")
		concurrentIncr(t, []kv.Store{a, b}, 100)
		concurrentTake(t, []kv.Store{a, b}, 20)
	}},
}
