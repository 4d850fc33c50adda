package kvtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// DefaultRedisURL is the shared test server.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// SharedRedisURL returns GATEHOUSE_TEST_REDIS, or DefaultRedisURL, after checking
// that the server answers. An unreachable server fails the test in CI and skips it
// elsewhere. Tests on the shared server must use their own key prefix (OpenRedis
// does) and never flush the database.
func SharedRedisURL(t testing.TB) string {
	t.Helper()
	testenv.Short(t, "Redis")
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		u = DefaultRedisURL
	}
	st, err := kv.OpenRedis(context.Background(), u, kv.RedisOptions{
		KeyPrefix:   NewPrefix(),
		DialTimeout: 2 * time.Second,
		OpTimeout:   3 * time.Second,
	})
	if err != nil {
		testenv.Need(t, fmt.Sprintf("Redis at %s is unreachable (set GATEHOUSE_TEST_REDIS, or start redis-server): %v", redacted(u), err))
	}
	_ = st.Close()
	return u
}

// OpenRedis opens a store on the Redis at url for one test. Without a KeyPrefix in
// opts it gets a fresh random one, so concurrent tests and runs never share keys.
// When the test ends, the store's keys are deleted and the store is closed; a
// server that is gone by then is not an error.
func OpenRedis(t testing.TB, url string, opts kv.RedisOptions) *kv.Redis {
	t.Helper()
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = NewPrefix()
	}
	st, err := kv.OpenRedis(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("opening Redis store: %v", err)
	}
	t.Cleanup(func() {
		_ = st.Close()
		deletePrefix(url, opts)
	})
	return st
}

// NewPrefix returns a random key prefix for one test, e.g. "gatehouse-test:1f2e…:".
// Its characters are all safe in a SCAN MATCH pattern.
func NewPrefix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (Go ≥ 1.24)
	return "gatehouse-test:" + hex.EncodeToString(b) + ":"
}

// deletePrefix removes every key under opts.KeyPrefix, best effort.
func deletePrefix(url string, opts kv.RedisOptions) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return
	}
	if opts.TLSConfig != nil && o.TLSConfig != nil {
		serverName := o.TLSConfig.ServerName
		o.TLSConfig = opts.TLSConfig.Clone()
		if o.TLSConfig.ServerName == "" {
			o.TLSConfig.ServerName = serverName
		}
	}
	o.DialTimeout, o.ReadTimeout, o.MaxRetries = time.Second, time.Second, -1
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := c.Scan(ctx, 0, opts.KeyPrefix+"*", 500).Iterator()
	var batch []string
	for it.Next(ctx) {
		batch = append(batch, it.Val())
		if len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
}

// redacted hides the password in a Redis URL for test messages.
func redacted(raw string) string {
	if u, err := neturl.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable Redis URL)"
}

// QuietRedisLog silences go-redis's own logger for a test binary (call it from
// TestMain): it prints a line for every refused dial, and the outage and fail-over
// tests make hundreds on purpose. The gateway decides for itself where go-redis logs go.
func QuietRedisLog() { redis.SetLogger(quietLog{}) }

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}
