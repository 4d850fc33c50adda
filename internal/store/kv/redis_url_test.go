package kv

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRedisSentinelURL: the Sentinel form reaches the named primary through every
// listed Sentinel, with the data nodes' credentials, database, TLS and the same
// fail-fast settings as one server; the Sentinels' own password is separate and
// redacted like the other.
func TestRedisSentinelURL(t *testing.T) {
	cfg, err := redisConfig("rediss+sentinel://app:pw1@s1.internal,s2.internal:26380,[::1]/mymaster?db=2&sentinel_password=pw2&dial_timeout=2s", RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.topology.universal(cfg.client)
	checks := []struct {
		name      string
		got, want any
	}{
		{"sentinels", strings.Join(u.Addrs, " "), "s1.internal:26379 s2.internal:26380 [::1]:26379"},
		{"master", u.MasterName, "mymaster"},
		{"cluster", u.IsClusterMode, false},
		{"db", u.DB, 2},
		{"username", u.Username, "app"},
		{"password", u.Password, "pw1"},
		{"sentinel password", u.SentinelPassword, "pw2"},
		{"dial timeout", u.DialTimeout, 2 * time.Second},
		{"read timeout", u.ReadTimeout, DefaultRedisReadTimeout},
		{"retries", u.MaxRetries, 2},
		{"dial attempts", u.DialerRetries, 1},
		{"context deadlines honoured", u.ContextTimeoutEnabled, true},
		{"TLS", u.TLSConfig != nil, true},
		{"display", cfg.display, "rediss+sentinel://app:xxxxx@s1.internal,s2.internal:26380,[::1]/mymaster?db=2&dial_timeout=2s&sentinel_password=xxxxx"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Each node's certificate is checked against the address dialled, not pinned to
	// the first Sentinel's name.
	if u.TLSConfig != nil && u.TLSConfig.ServerName != "" {
		t.Errorf("TLS ServerName = %q, want empty (taken from each address)", u.TLSConfig.ServerName)
	}
}

func TestRedisClusterURL(t *testing.T) {
	cfg, err := redisConfig("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3?pool_size=4", RedisOptions{TLSConfig: nil})
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.topology.universal(cfg.client)
	if !u.IsClusterMode || u.MasterName != "" || !slices.Equal(u.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:6379"}) {
		t.Errorf("cluster options: cluster %v, master %q, addrs %v", u.IsClusterMode, u.MasterName, u.Addrs)
	}
	if u.Password != "pw" || u.PoolSize != 4 || u.TLSConfig != nil || u.MaxRetries != 2 {
		t.Errorf("password %q, pool %d, TLS %v, retries %d", u.Password, u.PoolSize, u.TLSConfig, u.MaxRetries)
	}
	if cfg.display != "redis+cluster://:xxxxx@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3?pool_size=4" {
		t.Errorf("display = %q", cfg.display)
	}
	// The operator's TLS config is used on every node, its ServerName left alone.
	cfg, err = redisConfig("rediss+cluster://10.0.0.1:7000", RedisOptions{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}})
	if err != nil {
		t.Fatal(err)
	}
	if tc := cfg.topology.universal(cfg.client).TLSConfig; tc == nil || tc.MinVersion != tls.VersionTLS13 || tc.ServerName != "" {
		t.Errorf("TLS config = %+v", tc)
	}
}

// TestRedisTopologyURLErrors: a bad Sentinel or Cluster URL is a configuration
// error that names the problem (and the value), never prints a password, and is
// not ErrUnavailable.
func TestRedisTopologyURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"redis+sentinel://:secretpw@h1:26379,h2:26379", "primary's name"},
		{"redis+sentinel://:secretpw@h1:26379/a/b", "primary's name"},
		{"redis+sentinel://:secretpw@h1:26379,,h2/m", "empty address"},
		{"redis+sentinel://:secretpw@h1:99999/m", `"h1:99999"`},
		{"redis+sentinel://:secretpw@h1/m?db=x", "database"},
		{"redis+sentinel://:secretpw@h1/m?sentinel_password=secretpw&route_randomly=true", "route_randomly"},
		{"redis+sentinel://:secretpw@h1/m?max_retries=9", "fails fast"},
		{"redis+cluster://:secretpw@h1:7000/0", "takes no path"},
		{"redis+cluster://:secretpw@h1:7000?db=1", "db is not accepted"},
		{"rediss+cluster://:secretpw@h1:7000?skip_verify=true", "certificate"},
		{"redis+shard://:secretpw@h1:7000", `"redis+shard"`},
		{"http+cluster://:secretpw@h1:7000", `"http+cluster"`},
		{"h1:7000", "scheme"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := redisConfig(tc.url, RedisOptions{})
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error %q contains the password", err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("configuration error wraps ErrUnavailable")
			}
		})
	}
	if _, err := redisConfig("redis+sentinel://h1/m", RedisOptions{TLSConfig: &tls.Config{}}); err == nil || !strings.Contains(err.Error(), "rediss") {
		t.Errorf("TLS config with redis+sentinel:// = %v; want refused, pointing to rediss", err)
	}
}
