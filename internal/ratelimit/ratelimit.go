package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// Class is an endpoint class with its own limits.
type Class string

// Endpoint classes.
const (
	Login        Class = "login"         // password sign-in
	SecondFactor Class = "second_factor" // TOTP, recovery code, passkey sign-in
	Token        Class = "token"         // token endpoint
	API          Class = "api"           // other portal pages and API calls
)

// Rule is a class's limits; a zero rate means "no limit of that kind".
type Rule struct {
	PerIP   limiter.Rate
	PerUser limiter.Rate
}

func perMinute(n int64) limiter.Rate { return limiter.Rate{Period: time.Minute, Limit: n} }

// DefaultRules are generous for people and tight for scripts. Lockout stops guessing
// one account; these stop spraying many accounts from one place and floods.
var DefaultRules = map[Class]Rule{
	Login:        {PerIP: perMinute(30), PerUser: perMinute(10)},
	SecondFactor: {PerIP: perMinute(30), PerUser: perMinute(10)},
	Token:        {PerIP: perMinute(60), PerUser: perMinute(60)},
	API:          {PerIP: perMinute(300)},
}

// Result of a check.
type Result struct {
	Allowed    bool
	Limit      int64
	Remaining  int64
	Reset      time.Time
	RetryAfter time.Duration // when not allowed
}

// Limiter checks requests against the rules.
type Limiter struct {
	rules      map[Class]Rule
	primary    limiter.Store
	fallback   limiter.Store
	degraded   atomic.Bool
	failedAt   atomic.Int64                   // unix nanos of the last shared-store failure
	OnDegraded func(degraded bool, err error) // called when falling back and when recovered
}

// New returns a limiter over store (nil: memory only) with rules (nil: DefaultRules).
func New(store limiter.Store, rules map[Class]Rule) *Limiter {
	mem := memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "gatehouse-rl", CleanUpInterval: time.Minute})
	if store == nil {
		store = mem
	}
	if rules == nil {
		rules = DefaultRules
	}
	return &Limiter{rules: rules, primary: store, fallback: mem}
}

// WithRules returns a limiter with other rules on the same stores (and degraded state
// handling), e.g. for limits on proxied routes.
func (l *Limiter) WithRules(rules map[Class]Rule) *Limiter {
	return &Limiter{rules: rules, primary: l.primary, fallback: l.fallback, OnDegraded: l.OnDegraded}
}

// Degraded tells whether the limiter is running on the per-instance fallback.
func (l *Limiter) Degraded() bool { return l.degraded.Load() }

// Allow counts a request of class from ip and for user (either may be empty: not
// checked) and tells whether it may proceed. It never fails: a broken shared store falls back to memory.
func (l *Limiter) Allow(ctx context.Context, class Class, ip, user string) Result {
	rule := l.rules[class]
	res := Result{Allowed: true}
	check := func(rate limiter.Rate, key string) {
		if rate.Limit <= 0 {
			return
		}
		c := l.get(ctx, string(class)+":"+key, rate)
		if res.Limit == 0 || c.Remaining < res.Remaining {
			res.Limit, res.Remaining, res.Reset = c.Limit, c.Remaining, time.Unix(c.Reset, 0)
		}
		if c.Reached {
			res.Allowed = false
			if d := time.Until(time.Unix(c.Reset, 0)); d > res.RetryAfter {
				res.RetryAfter = d
			}
		}
	}
	if ip != "" {
		check(rule.PerIP, "ip:"+IPKey(ip))
	}
	if user != "" {
		h := sha256.Sum256([]byte(user))
		check(rule.PerUser, "user:"+hex.EncodeToString(h[:12]))
	}
	if !res.Allowed && res.RetryAfter < time.Second {
		res.RetryAfter = time.Second
	}
	return res
}

// retryShared is how long the limiter stays on memory after the shared store failed
// before trying it again (so a dead Redis costs one timeout per interval, not per request).
const retryShared = 5 * time.Second

func (l *Limiter) get(ctx context.Context, key string, rate limiter.Rate) limiter.Context {
	if l.primary != l.fallback && (!l.degraded.Load() || time.Since(time.Unix(0, l.failedAt.Load())) >= retryShared) {
		c, err := l.primary.Get(ctx, key, rate)
		if err == nil {
			l.recovered()
			return c
		}
		l.failed(err)
	}
	c, _ := l.fallback.Get(ctx, key, rate) // the memory store does not fail
	return c
}

func (l *Limiter) failed(err error) {
	l.failedAt.Store(time.Now().UnixNano())
	if l.degraded.CompareAndSwap(false, true) && l.OnDegraded != nil {
		l.OnDegraded(true, err)
	}
}

func (l *Limiter) recovered() {
	if l.degraded.CompareAndSwap(true, false) && l.OnDegraded != nil {
		l.OnDegraded(false, nil)
	}
}

// ProbeInterval is how often Watch asks the shared store whether it answers: the
// degraded state (and its metric) follows an outage and a recovery within about this
// long plus the store's 500 ms timeout, with or without traffic.
const ProbeInterval = 2 * time.Second

// Probe asks the shared store whether it answers and updates the degraded state
// (calling OnDegraded on a change). It returns the store's error; with a memory-only
// limiter, or a shared store that cannot be pinged, it does nothing.
func (l *Limiter) Probe(ctx context.Context) error {
	p, ok := l.primary.(interface{ Ping(context.Context) error })
	if l.primary == l.fallback || !ok {
		return nil
	}
	if err := p.Ping(ctx); err != nil {
		l.failed(err)
		return err
	}
	l.recovered()
	return nil
}

// Watch probes the shared store every interval (ProbeInterval when 0) until ctx ends,
// so the degraded state tells the truth when no rate-limited request arrives. It
// returns at once for a memory-only limiter.
func (l *Limiter) Watch(ctx context.Context, interval time.Duration) {
	if _, ok := l.primary.(interface{ Ping(context.Context) error }); l.primary == l.fallback || !ok {
		return
	}
	if interval <= 0 {
		interval = ProbeInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			_ = l.Probe(pctx)
			cancel()
		}
	}
}

// IPKey groups client addresses: IPv4 as is, IPv6 by its /64.
func IPKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "invalid"
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
