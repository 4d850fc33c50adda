package kvtest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// blobTests cover Put and Take: single-use values such as WebAuthn ceremony state,
// where a second use is a replay.
var blobTests = []test{
	{"PutTakeOnce", func(t *testing.T, _ *suite, st kv.Store) {
		data := []byte{0, 1, 2, 0xff, '\r', '\n', 0}
		must(t, st.Put(ctx, "b", data, time.Minute))
		mustTTLIn(t, st, "b", 0, time.Minute)
		got, err := st.Take(ctx, "b")
		must(t, err)
		if !bytes.Equal(got, data) {
			t.Fatalf("Take = %x, want %x", got, data)
		}
		mustNotFound(t, st, "b")
	}},
	{"TakeMissing", func(t *testing.T, _ *suite, st kv.Store) {
		mustNotFound(t, st, "missing")
	}},
	{"PutCopiesData", func(t *testing.T, _ *suite, st kv.Store) {
		buf := []byte("original")
		must(t, st.Put(ctx, "b", buf, time.Minute))
		copy(buf, "CHANGED!")
		got, err := st.Take(ctx, "b")
		must(t, err)
		if string(got) != "original" {
			t.Fatalf("Take = %q after the caller reused its buffer, want %q", got, "original")
		}
	}},
	{"EmptyValue", func(t *testing.T, _ *suite, st kv.Store) {
		// Present-but-empty is not missing.
		must(t, st.Put(ctx, "b", nil, time.Minute))
		got, err := st.Take(ctx, "b")
		if err != nil || len(got) != 0 {
			t.Fatalf("Take of an empty value = %q, %v; want empty, nil", got, err)
		}
		mustNotFound(t, st, "b")
	}},
	{"LargeValue", func(t *testing.T, _ *suite, st kv.Store) {
		data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
		must(t, st.Put(ctx, "b", data, time.Minute))
		got, err := st.Take(ctx, "b")
		must(t, err)
		if !bytes.Equal(got, data) {
			t.Fatalf("Take of %d bytes returned %d different bytes", len(data), len(got))
		}
	}},
	{"PutOverwrites", func(t *testing.T, _ *suite, st kv.Store) {
		must(t, st.Put(ctx, "b", []byte("first"), time.Minute))
		must(t, st.Put(ctx, "b", []byte("second"), 0))
		if d := mustTTL(t, st, "b"); d != 0 {
			t.Fatalf("TTL after Put without ttl = %s, want 0", d)
		}
		got, err := st.Take(ctx, "b")
		must(t, err)
		if string(got) != "second" {
			t.Fatalf("Take = %q, want %q", got, "second")
		}
	}},
	{"ConcurrentTake", func(t *testing.T, _ *suite, st kv.Store) {
		concurrentTake(t, []kv.Store{st}, 20)
	}},
}

// concurrentTake puts one value and takes it from n goroutines, spread over stores:
// exactly one gets it, every other gets ErrNotFound.
func concurrentTake(t *testing.T, stores []kv.Store, n int) {
	t.Helper()
	must(t, stores[0].Put(ctx, "once", []byte("ceremony"), time.Minute))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		winners  int
		notFound int
		errs     []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			data, err := stores[i%len(stores)].Take(ctx, "once")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && string(data) == "ceremony":
				winners++
			case errors.Is(err, kv.ErrNotFound):
				notFound++
			case err == nil:
				errs = append(errs, errors.New("Take returned "+string(data)))
			default:
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Take: %v", err)
	}
	if winners != 1 || notFound != n-1 {
		t.Fatalf("%d concurrent Takes: %d got the value, %d got ErrNotFound; want 1 and %d", n, winners, notFound, n-1)
	}
}
