package kv

import (
	"crypto/tls"
	"testing"
	"time"
)

// TestRedisDefaults pins the settings that make a dead Redis fail fast, and the
// order in which options, URL parameters and defaults apply.
func TestRedisDefaults(t *testing.T) {
	cfg, err := redisConfig("redis://gh:pw@10.0.0.7:6380/3", RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.client
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", o.Addr, "10.0.0.7:6380"},
		{"db", o.DB, 3},
		{"username", o.Username, "gh"},
		{"password", o.Password, "pw"},
		{"prefix", cfg.prefix, DefaultKeyPrefix},
		{"display", cfg.display, "redis://gh:xxxxx@10.0.0.7:6380/3"},
		{"dial timeout", o.DialTimeout, 500 * time.Millisecond},
		{"read timeout", o.ReadTimeout, 300 * time.Millisecond},
		{"write timeout", o.WriteTimeout, 300 * time.Millisecond},
		{"operation timeout", cfg.opTimeout, 800 * time.Millisecond},
		{"pool timeout", o.PoolTimeout, 800 * time.Millisecond},
		{"dial attempts", o.DialerRetries, 1},
		{"retries", o.MaxRetries, 2},
		{"context deadlines honoured", o.ContextTimeoutEnabled, true},
		{"TLS", o.TLSConfig == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRedisOptionsOverride(t *testing.T) {
	// A URL parameter beats the default; a RedisOptions field beats both.
	cfg, err := redisConfig("rediss://cache.internal:6379/0?dial_timeout=2s&read_timeout=1s&pool_size=7",
		RedisOptions{KeyPrefix: "tenant-a:", ReadTimeout: 100 * time.Millisecond, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.client
	if o.DialTimeout != 2*time.Second || o.ReadTimeout != 100*time.Millisecond || o.WriteTimeout != 300*time.Millisecond {
		t.Errorf("timeouts dial/read/write = %s/%s/%s, want 2s/100ms/300ms", o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
	}
	if cfg.opTimeout != 2300*time.Millisecond {
		t.Errorf("operation timeout = %s, want dial + write = 2.3s", cfg.opTimeout)
	}
	if o.PoolSize != 7 || cfg.prefix != "tenant-a:" {
		t.Errorf("pool size %d, prefix %q; want 7, tenant-a:", o.PoolSize, cfg.prefix)
	}
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.internal" || o.TLSConfig.MinVersion != tls.VersionTLS13 {
		t.Errorf("TLS config = %+v, want the given one with ServerName cache.internal", o.TLSConfig)
	}
}

func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want int64
	}{
		{-time.Second, 0}, {0, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1},
		{1500 * time.Microsecond, 2}, {time.Minute, 60000},
	} {
		if got := millis(tc.in); got != tc.want {
			t.Errorf("millis(%s) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
