package kvtest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// keyTests cover the operations that work on any key: TTL, Del, Ping.
var keyTests = []test{
	{"TTLMissingIsZero", func(t *testing.T, _ *suite, st kv.Store) {
		if d := mustTTL(t, st, "missing"); d != 0 {
			t.Fatalf("TTL of a missing key = %s, want 0", d)
		}
	}},
	{"Del", func(t *testing.T, _ *suite, st kv.Store) {
		must(t, st.SetInt(ctx, "a", 1, time.Minute))
		must(t, st.Put(ctx, "b", []byte("x"), time.Minute))
		must(t, st.SetInt(ctx, "c", 3, 0))
		must(t, st.Del(ctx, "a", "b", "missing"))
		mustInt(t, st, "a", 0)
		mustNotFound(t, st, "b")
		mustInt(t, st, "c", 3)
		must(t, st.Del(ctx)) // no keys: nothing to do, not an error
		must(t, st.Del(ctx, "c", "c"))
		mustInt(t, st, "c", 0)
		// A deleted counter starts over, with a fresh TTL.
		mustIncr(t, st, "a", time.Minute, 1)
		mustTTLIn(t, st, "a", 0, time.Minute)
	}},
	{"Ping", func(t *testing.T, _ *suite, st kv.Store) {
		must(t, st.Ping(ctx))
	}},
}
