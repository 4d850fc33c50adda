package kv_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// TestRedisConformance runs the suite on the shared test server; every store gets
// its own random key prefix, so runs never collide and cleanup deletes only ours.
func TestRedisConformance(t *testing.T) {
	url := kvtest.SharedRedisURL(t)
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return kvtest.OpenRedis(t, url, kv.RedisOptions{})
	}, kvtest.WithShared(func(t *testing.T) (kv.Store, kv.Store) {
		// Two clients, one prefix: two gateway instances sharing one Redis.
		opts := kv.RedisOptions{KeyPrefix: kvtest.NewPrefix()}
		return kvtest.OpenRedis(t, url, opts), kvtest.OpenRedis(t, url, opts)
	}))
}

// TestRedisKeyPrefixes checks what the prefix does on the server: keys land under
// it, and stores with different prefixes do not see each other's keys.
func TestRedisKeyPrefixes(t *testing.T) {
	url := kvtest.SharedRedisURL(t)
	base := kvtest.NewPrefix()
	a := kvtest.OpenRedis(t, url, kv.RedisOptions{KeyPrefix: base + "a:"})
	b := kvtest.OpenRedis(t, url, kv.RedisOptions{KeyPrefix: base + "b:"})

	if _, err := a.Incr(ctx, "lock:alice", time.Minute); err != nil {
		t.Fatal(err)
	}
	mustDo(t, a.Put(ctx, "ceremony", []byte("state"), time.Minute))
	if n, err := b.GetInt(ctx, "lock:alice"); err != nil || n != 0 {
		t.Fatalf("b sees a's counter: %d, %v", n, err)
	}
	if _, err := b.Take(ctx, "ceremony"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("b took a's value: %v", err)
	}

	raw := rawClient(t, url)
	keys, err := raw.Keys(ctx, base+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{base + "a:lock:alice": true, base + "a:ceremony": true}
	if len(keys) != len(want) {
		t.Fatalf("keys on the server = %q, want %v", keys, want)
	}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("unexpected key %q on the server", k)
		}
	}
	ttl, err := raw.PTTL(ctx, base+"a:lock:alice").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL of the counter = %s, %v; want in (0, 1m]", ttl, err)
	}
}

// TestRedisSurvivesScriptFlush checks the Incr script is re-sent when Redis has
// forgotten it (SCRIPT FLUSH; a restart or failover does the same).
func TestRedisSurvivesScriptFlush(t *testing.T) {
	r := kvtest.StartPrivateRedis(t)
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{})
	if _, err := st.Incr(ctx, "n", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := rawClient(t, r.URL()).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Incr(ctx, "n", time.Minute); err != nil || n != 2 {
		t.Fatalf("Incr after SCRIPT FLUSH = %d, %v; want 2", n, err)
	}
}

func TestRedisString(t *testing.T) {
	r := kvtest.StartPrivateRedisWith(t, kvtest.PrivateRedisConfig{Password: "s3cret-Pa55"})
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{})
	if s := st.String(); strings.Contains(s, "s3cret-Pa55") || !strings.Contains(s, r.Addr()) {
		t.Fatalf("String() = %q: want the address without the password", s)
	}
}

// rawClient is a plain go-redis client, for looking behind the store's back.
func rawClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openErr opens a store that is expected to fail, returning the error.
func openErr(t *testing.T, url string, opts kv.RedisOptions) error {
	t.Helper()
	st, err := kv.OpenRedis(context.Background(), url, opts)
	if err == nil {
		_ = st.Close()
		t.Fatalf("OpenRedis(%q) succeeded, want an error", url)
	}
	return err
}
