package kv_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// TestOpenRedisRefusesBadConfig covers configuration errors: reported at once, not
// as ErrUnavailable (retrying will not help), and without the password.
func TestOpenRedisRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		opts      kv.RedisOptions
		want      []string
	}{
		{"scheme", "http://127.0.0.1:6379/0", kv.RedisOptions{}, []string{`"http"`}},
		{"unix scheme", "unix:///tmp/redis.sock", kv.RedisOptions{}, []string{`"unix"`}},
		{"database", "redis://:" + goodPassword + "@127.0.0.1:6379/nine", kv.RedisOptions{}, []string{"database"}},
		{"unknown query parameter", "redis://:" + goodPassword + "@127.0.0.1:6379/0?colour=blue", kv.RedisOptions{}, []string{"colour"}},
		{"bad escape", "redis://:" + goodPassword + "%zz@127.0.0.1:6379/0", kv.RedisOptions{}, []string{"parsing URL"}},
		{"retry parameters", "redis://127.0.0.1:6379/0?max_retries=10&pool_timeout=30s", kv.RedisOptions{}, []string{"max_retries", "pool_timeout"}},
		{"skip_verify", "rediss://127.0.0.1:6379/0?skip_verify=true", kv.RedisOptions{}, []string{"skip_verify", "certificate"}},
		{"TLS config without rediss", "redis://127.0.0.1:6379/0", kv.RedisOptions{TLSConfig: &tls.Config{}}, []string{"rediss://"}},
		{
			"every bad option at once", "ftp://:" + goodPassword + "@127.0.0.1:6379/0",
			kv.RedisOptions{DialTimeout: -1, ReadTimeout: -time.Second, WriteTimeout: -1, OpTimeout: -1, PoolSize: -3},
			[]string{`"ftp"`, "dial timeout", "read timeout", "write timeout", "operation timeout", "pool size"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(t, tc.url, tc.opts)
			t.Log(err)
			if errors.Is(err, kv.ErrUnavailable) {
				t.Errorf("configuration error %v wraps ErrUnavailable", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			wantNoPassword(t, err)
		})
	}
}
