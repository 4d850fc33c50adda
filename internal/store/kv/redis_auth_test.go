package kv_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// The passwords below are distinctive so that a leak into error text is found by a
// plain substring search.
const (
	goodPassword  = "s3cret-Pa55-right"
	wrongPassword = "s3cret-Pa55-wrong"
)

func TestRedisPassword(t *testing.T) {
	r := kvtest.StartPrivateRedisWith(t, kvtest.PrivateRedisConfig{Password: goodPassword})
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{})
	wantWorking(t, st)

	wantAuthFailure(t, strings.Replace(r.URL(), goodPassword, wrongPassword, 1), nil)
	wantAuthFailure(t, "redis://"+r.Addr()+"/0", nil) // no password at all
}

func TestRedisACLUser(t *testing.T) {
	r := kvtest.StartPrivateRedisWith(t, kvtest.PrivateRedisConfig{Username: "gatehouse", Password: goodPassword})
	if !strings.HasPrefix(r.URL(), "redis://gatehouse:") {
		t.Fatalf("URL() = %q, want the ACL user in it", r.URL())
	}
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{})
	wantWorking(t, st)

	wantAuthFailure(t, strings.Replace(r.URL(), goodPassword, wrongPassword, 1), nil)
	// The right password for another user (the disabled default user) is no good.
	wantAuthFailure(t, "redis://:"+goodPassword+"@"+r.Addr()+"/0", nil)
}

func TestRedisTLS(t *testing.T) {
	r := kvtest.StartPrivateRedisWith(t, kvtest.PrivateRedisConfig{TLS: true, Password: goodPassword})
	if !strings.HasPrefix(r.URL(), "rediss://") {
		t.Fatalf("URL() = %q, want rediss://", r.URL())
	}
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{TLSConfig: r.ClientTLS()})
	wantWorking(t, st)

	// The system roots do not know the test CA: the certificate is checked. (Generous
	// timeouts: the question is which error, and on a loaded machine loading the
	// system roots and the handshake can outlast the 500ms default.)
	err := openErr(t, r.URL(), kv.RedisOptions{DialTimeout: 15 * time.Second, OpTimeout: 20 * time.Second})
	if !errors.Is(err, kv.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("OpenRedis with an untrusted certificate = %v; want a certificate error wrapping ErrUnavailable", err)
	}
	// Plain text to a TLS port gets nowhere.
	plain := strings.Replace(r.URL(), "rediss://", "redis://", 1)
	if err := openErr(t, plain, kv.RedisOptions{}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("OpenRedis over plain text to a TLS port = %v; want ErrUnavailable", err)
	}
	wantAuthFailure(t, strings.Replace(r.URL(), goodPassword, wrongPassword, 1), r.ClientTLS())
}

// wantAuthFailure checks that OpenRedis refuses url with ErrUnavailable, quickly,
// and that neither password appears in the error.
func wantAuthFailure(t *testing.T, url string, tlsConfig *tls.Config) {
	t.Helper()
	// Generous timeouts (a loaded machine must not turn the refusal into a timeout);
	// the refusal must still come at once rather than after retries until the timeout.
	const patience = 20 * time.Second
	start := time.Now()
	err := openErr(t, url, kv.RedisOptions{TLSConfig: tlsConfig, DialTimeout: patience, OpTimeout: patience})
	t.Log(err)
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("OpenRedis with bad credentials = %v; want an error wrapping ErrUnavailable", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "deadline") {
		t.Errorf("OpenRedis with bad credentials waited for its timeout instead of failing on the refusal: %v", err)
	}
	if el := time.Since(start); el > patience/2 {
		t.Errorf("OpenRedis with bad credentials took %s: it retried", el)
	}
	wantNoPassword(t, err)
}

// wantNoPassword checks that err's text, and the text of everything it wraps, has
// no password in it.
func wantNoPassword(t *testing.T, err error) {
	t.Helper()
	for _, e := range errorTree(err) {
		for _, pw := range []string{goodPassword, wrongPassword} {
			if strings.Contains(e.Error(), pw) {
				t.Errorf("error text leaks a password: %q", e.Error())
			}
		}
	}
}

// errorTree lists err and every error it wraps.
func errorTree(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, errorTree(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, errorTree(e)...)
		}
	}
	return out
}
