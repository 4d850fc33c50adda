package authn_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// failoverBudget is what the README promises for a Sentinel fail-over seen from the
// gateway: down-after-milliseconds plus this much (election, promotion, reconnect),
// with room for a loaded machine.
const failoverBudget = 10 * time.Second

// TestLockoutAndLimitsSurviveSentinelFailover: lockout and rate limits on a
// Sentinel-managed Redis. The primary is killed (SIGKILL) after the lock has
// replicated; while the Sentinels fail over, no sign-in attempt is admitted (the
// store answers ErrUnavailable: 503) and the locked account is never let through;
// within the promised time sign-in works again, the account is still locked, a new
// lockout works, and the rate-limit count carried over.
func TestLockoutAndLimitsSurviveSentinelFailover(t *testing.T) {
	const downAfter = time.Second
	s := kvtest.StartSentinel(t, kvtest.SentinelConfig{Password: "sentinel-test-pw", DownAfter: downAfter})
	st := kvtest.OpenRedis(t, s.URL(), kv.RedisOptions{})
	lo := &authn.Lockout{KV: st, Policy: authn.LockoutPolicy{Threshold: 3, Base: 10 * time.Minute, Max: time.Hour}}
	rules := map[ratelimit.Class]ratelimit.Rule{ratelimit.Login: {PerUser: limiter.Rate{Period: time.Hour, Limit: 5}}}
	lim := ratelimit.New(ratelimit.NewRedisStore(st.Client(), kvtest.NewPrefix()+"rl"), rules)
	ctx := context.Background()
	const tenant = "t1"

	failUntilLocked(t, lo, tenant, "alice@example.com", 3)
	for i := range 3 {
		if r := lim.Allow(ctx, ratelimit.Login, "", "bob"); !r.Allowed || r.Remaining != int64(4-i) {
			t.Fatalf("request %d for bob: allowed %v, remaining %d; want allowed, %d", i+1, r.Allowed, r.Remaining, 4-i)
		}
	}
	if lim.Degraded() {
		t.Fatal("limiter degraded before the fail-over")
	}

	// Replication is asynchronous: what the primary took in its last moments may not
	// be on the replica. The promise is for state that has replicated (WAIT here;
	// milliseconds in practice).
	s.Replicate()
	old := s.KillPrimary()
	killed := time.Now()

	var unavailable int
	deadline := killed.Add(downAfter + failoverBudget)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("sign-in did not work again within %s of the kill (%d attempts refused as unavailable)", downAfter+failoverBudget, unavailable)
		}
		// The locked account is never let through, during the fail-over or after.
		if a, err := lo.Begin(ctx, tenant, "alice@example.com"); err == nil {
			_ = lo.Abort(ctx, a)
			t.Fatalf("%s after the kill the locked account was admitted", time.Since(killed))
		} else if _, locked := authn.IsLocked(err); !locked && !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("Begin for the locked account = %v; want locked or ErrUnavailable", err)
		}
		// A fresh account is refused as unavailable (fail closed) until Redis is back.
		a, err := lo.Begin(ctx, tenant, "carol@example.com")
		if err == nil {
			_ = lo.Abort(ctx, a)
			break
		}
		if !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("Begin during the fail-over = %v; want ErrUnavailable", err)
		}
		unavailable++
		// Rate limits never fail: they fall back to this instance's memory.
		if r := lim.Allow(ctx, ratelimit.Login, "", "fallback-user-"+strconv.Itoa(unavailable)); !r.Allowed {
			t.Fatalf("rate limit during the fail-over refused a first request")
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("sign-in worked again %s after the primary was killed (down-after %s); %d attempts refused as unavailable meanwhile", took.Round(100*time.Millisecond), downAfter, unavailable)
	if unavailable == 0 {
		t.Error("no attempt met the fail-over window: the test did not test it")
	}
	if now := s.Primary(); now == old {
		t.Fatalf("sign-in works but the Sentinels still name the killed primary %s", old)
	}

	// The lock replicated before the kill holds on the new primary.
	if _, err := lo.Begin(ctx, tenant, "alice@example.com"); err == nil {
		t.Fatal("the account locked before the fail-over is open after it")
	} else if le, ok := authn.IsLocked(err); !ok || le.RetryAfter < 9*time.Minute {
		t.Fatalf("Begin for alice after the fail-over = %v; want locked for about 10 minutes", err)
	}
	// New lockouts work on the new primary.
	failUntilLocked(t, lo, tenant, "dave@example.com", 3)

	// The limiter returns to Redis (its probe sees it answer) and bob's count went on
	// where it was: 3 of 5 used before the kill.
	waitUntil(t, 15*time.Second, func() bool { return lim.Probe(ctx) == nil && !lim.Degraded() })
	for i, want := range []bool{true, true, false} {
		if r := lim.Allow(ctx, ratelimit.Login, "", "bob"); r.Allowed != want {
			t.Fatalf("request %d for bob after the fail-over: allowed %v, want %v (remaining %d)", 4+i, r.Allowed, want, r.Remaining)
		}
	}
}

// failUntilLocked records n wrong attempts for subject; the last must lock it.
func failUntilLocked(t *testing.T, lo *authn.Lockout, tenant, subject string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		a, err := lo.Begin(ctx, tenant, subject)
		if err != nil {
			t.Fatalf("attempt %d for %s: %v", i, subject, err)
		}
		d, err := lo.Fail(ctx, a)
		if err != nil {
			t.Fatalf("recording failure %d for %s: %v", i, subject, err)
		}
		if (d > 0) != (i == n) {
			t.Fatalf("failure %d of %d for %s locked for %s", i, n, subject, d)
		}
	}
	if _, err := lo.Begin(ctx, tenant, subject); err == nil {
		t.Fatalf("%s admitted after %d failures", subject, n)
	} else if _, ok := authn.IsLocked(err); !ok {
		t.Fatalf("Begin for %s after %d failures = %v; want locked", subject, n, err)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLockoutAndLimitsOnCluster: on a three-primary Redis Cluster, lockouts and rate
// limits for many accounts (their keys spread over every node) count, lock, and
// unlock — an unlock deletes keys that live in different hash slots.
func TestLockoutAndLimitsOnCluster(t *testing.T) {
	c := kvtest.StartCluster(t, kvtest.ClusterConfig{Password: "cluster-test-pw"})
	st := kvtest.OpenRedis(t, c.URL(), kv.RedisOptions{})
	lo := &authn.Lockout{KV: st, Policy: authn.LockoutPolicy{Threshold: 3, Base: 10 * time.Minute, Max: time.Hour}}
	rules := map[ratelimit.Class]ratelimit.Rule{ratelimit.Login: {PerUser: limiter.Rate{Period: time.Hour, Limit: 2}}}
	lim := ratelimit.New(ratelimit.NewRedisStore(st.Client(), kvtest.NewPrefix()+"rl"), rules)
	ctx := context.Background()

	for i := range 12 {
		user := "user" + strconv.Itoa(i) + "@example.com"
		failUntilLocked(t, lo, "t1", user, 3)
		for j, want := range []bool{true, true, false} {
			if r := lim.Allow(ctx, ratelimit.Login, "", user); r.Allowed != want {
				t.Fatalf("request %d for %s: allowed %v, want %v", j+1, user, r.Allowed, want)
			}
		}
	}
	if lim.Degraded() {
		t.Fatal("the limiter fell back to memory: the cluster store failed")
	}
	// Unlock deletes the account's failures, back-off and lock, which hash to
	// different slots.
	if err := lo.Unlock(ctx, "t1", "user0@example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := lo.Begin(ctx, "t1", "user0@example.com")
	if err != nil {
		t.Fatalf("Begin after Unlock = %v; want admitted", err)
	}
	// A success after an unlock resets it all too; then a fresh count of 3 locks.
	if err := lo.Succeed(ctx, a); err != nil {
		t.Fatal(err)
	}
	failUntilLocked(t, lo, "t1", "user0@example.com", 3)
	if _, err := lo.Begin(ctx, "t1", "user1@example.com"); err == nil {
		t.Fatal("unlocking one account opened another")
	}
}
