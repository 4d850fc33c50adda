package kv_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// TestRedisSentinelConformance runs the whole store suite through Sentinel: every
// operation reaches the primary the Sentinels name, with its password.
func TestRedisSentinelConformance(t *testing.T) {
	s := kvtest.StartSentinel(t, kvtest.SentinelConfig{Password: goodPassword})
	url := s.URL()
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return kvtest.OpenRedis(t, url, kv.RedisOptions{})
	}, kvtest.WithShared(func(t *testing.T) (kv.Store, kv.Store) {
		opts := kv.RedisOptions{KeyPrefix: kvtest.NewPrefix()}
		return kvtest.OpenRedis(t, url, opts), kvtest.OpenRedis(t, url, opts)
	}))
	// A wrong password is refused through Sentinel too, and not printed.
	wantAuthFailure(t, strings.Replace(url, goodPassword, wrongPassword, 1), nil)
}

// TestRedisClusterConformance runs the whole store suite on a three-primary cluster:
// keys spread over the nodes, scripts run where their key lives, and a Del of keys
// in different slots (which one DEL cannot do in a cluster) still deletes them all.
func TestRedisClusterConformance(t *testing.T) {
	c := kvtest.StartCluster(t, kvtest.ClusterConfig{Password: goodPassword})
	url := c.URL()
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return kvtest.OpenRedis(t, url, kv.RedisOptions{})
	}, kvtest.WithShared(func(t *testing.T) (kv.Store, kv.Store) {
		opts := kv.RedisOptions{KeyPrefix: kvtest.NewPrefix()}
		return kvtest.OpenRedis(t, url, opts), kvtest.OpenRedis(t, url, opts)
	}))

	t.Run("KeysOnEveryNode", func(t *testing.T) {
		st := kvtest.OpenRedis(t, url, kv.RedisOptions{})
		keys := make([]string, 30)
		for i := range keys {
			keys[i] = "k" + strings.Repeat("x", i)
			mustDo(t, st.SetInt(ctx, keys[i], int64(i), time.Minute))
		}
		// Every node holds some of them: the test really spans slots and nodes.
		for _, n := range c.Nodes {
			raw := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: goodPassword})
			t.Cleanup(func() { _ = raw.Close() })
			if size, err := raw.DBSize(ctx).Result(); err != nil || size == 0 {
				t.Fatalf("node %s holds %d keys (%v); want some", n.Addr(), size, err)
			}
		}
		mustDo(t, st.Del(ctx, keys...))
		for _, k := range keys {
			if n, err := st.GetInt(ctx, k); err != nil || n != 0 {
				t.Fatalf("after Del, %s = %d, %v; want gone", k, n, err)
			}
		}
	})
	wantAuthFailure(t, strings.Replace(url, goodPassword, wrongPassword, 1), nil)
}

// TestRedisSentinelPrimaryDown: between the primary's death and the fail-over (the
// Sentinels still name the dead primary), operations fail with ErrUnavailable —
// callers fail closed — and quickly.
func TestRedisSentinelPrimaryDown(t *testing.T) {
	s := kvtest.StartSentinel(t, kvtest.SentinelConfig{DownAfter: 30 * time.Second})
	st := kvtest.OpenRedis(t, s.URL(), kv.RedisOptions{})
	if _, err := st.Incr(ctx, "n", time.Minute); err != nil {
		t.Fatal(err)
	}
	s.KillPrimary()
	start := time.Now()
	_, err := st.Incr(ctx, "n", time.Minute)
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("Incr with the primary dead = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the failure took %s; want about a second at most", d)
	}
}

// TestRedisSentinelTLS: rediss+sentinel:// encrypts the Sentinel and the data
// connections, checking each certificate; without the CA, or in plain text, nothing
// gets through.
func TestRedisSentinelTLS(t *testing.T) {
	s := kvtest.StartSentinel(t, kvtest.SentinelConfig{Password: goodPassword, TLS: true})
	wantTLSOnly(t, s.URL(), s.ClientTLS(), "rediss+sentinel://", "redis+sentinel://")
}

// TestRedisClusterTLS: the same for rediss+cluster://, the nodes it discovers included.
func TestRedisClusterTLS(t *testing.T) {
	c := kvtest.StartCluster(t, kvtest.ClusterConfig{Password: goodPassword, TLS: true})
	wantTLSOnly(t, c.URL(), c.ClientTLS(), "rediss+cluster://", "redis+cluster://")
	// Keys on every node: the discovered nodes were reached over TLS too.
	st := kvtest.OpenRedis(t, c.URL(), kv.RedisOptions{TLSConfig: c.ClientTLS()})
	for i := range 30 {
		mustDo(t, st.SetInt(ctx, "k"+strings.Repeat("x", i), 1, time.Minute))
	}
	for _, n := range c.Nodes {
		raw := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: goodPassword, TLSConfig: c.ClientTLS()})
		t.Cleanup(func() { _ = raw.Close() })
		if size, err := raw.DBSize(ctx).Result(); err != nil || size == 0 {
			t.Fatalf("node %s holds %d keys (%v); want some", n.Addr(), size, err)
		}
	}
}

func wantTLSOnly(t *testing.T, url string, clientTLS *tls.Config, tlsScheme, plainScheme string) {
	t.Helper()
	if !strings.HasPrefix(url, tlsScheme) {
		t.Fatalf("URL %q, want %s", url, tlsScheme)
	}
	st := kvtest.OpenRedis(t, url, kv.RedisOptions{TLSConfig: clientTLS})
	wantWorking(t, st)
	mustDo(t, st.Del(ctx, "a", "b", "c"))
	// The system roots do not know the test CA: certificates are checked.
	err := openErr(t, url, kv.RedisOptions{DialTimeout: 15 * time.Second, OpTimeout: 20 * time.Second})
	if !errors.Is(err, kv.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("OpenRedis with untrusted certificates = %v; want a certificate error wrapping ErrUnavailable", err)
	}
	// Plain text to TLS ports gets nowhere.
	if err := openErr(t, strings.Replace(url, tlsScheme, plainScheme, 1), kv.RedisOptions{}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("OpenRedis over plain text to TLS ports = %v; want ErrUnavailable", err)
	}
	wantAuthFailure(t, strings.Replace(url, goodPassword, wrongPassword, 1), clientTLS)
}
