//go:build !unix

package kvtest

import (
	"crypto/tls"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// PrivateRedisConfig configures a private redis-server (see the unix version).
type PrivateRedisConfig struct {
	Password string
	Username string
	TLS      bool
	Args     []string
	Sentinel []string
	pki      *testPKI
}

type testPKI struct{}

func newTestPKI(string) (*testPKI, error) { return &testPKI{}, nil }
func (*testPKI) ClientTLS() *tls.Config   { return nil }
func (*testPKI) caFile() string           { return "" }

// PrivateRedis needs redis-server and POSIX signals; on this platform the tests
// that use it are skipped (and fail in CI, which runs on Linux).
type PrivateRedis struct{}

// StartPrivateRedis fails in CI and skips elsewhere.
func StartPrivateRedis(t testing.TB) *PrivateRedis {
	return StartPrivateRedisWith(t, PrivateRedisConfig{})
}

// StartPrivateRedisWith fails in CI and skips elsewhere.
func StartPrivateRedisWith(t testing.TB, _ PrivateRedisConfig) *PrivateRedis {
	t.Helper()
	testenv.Need(t, "a private redis-server needs a unix system")
	return nil
}

func (*PrivateRedis) URL() string            { return "" }
func (*PrivateRedis) Addr() string           { return "" }
func (*PrivateRedis) ClientTLS() *tls.Config { return nil }
func (*PrivateRedis) Stop()                  {}
func (*PrivateRedis) Start()                 {}
func (*PrivateRedis) Pause()                 {}
func (*PrivateRedis) Resume()                {}
