package caddymodule

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/ulule/limiter/v3"

	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// rateRules merges the configured limits over the defaults.
func (a *App) parseRateRules() (map[ratelimit.Class]ratelimit.Rule, error) {
	rules := maps.Clone(ratelimit.DefaultRules)
	var errs []error
	for name, rl := range a.RateLimits {
		class := ratelimit.Class(name)
		r, ok := rules[class]
		if !ok {
			errs = append(errs, fmt.Errorf("rate_limit %q: unknown endpoint class (login, second_factor, token, api)", name))
			continue
		}
		var err error
		if rl.PerIP != "" {
			if r.PerIP, err = parseRate(rl.PerIP); err != nil {
				errs = append(errs, fmt.Errorf("rate_limit %s per-IP %q: %w", name, rl.PerIP, err))
			}
		}
		if rl.PerUser != "" {
			if r.PerUser, err = parseRate(rl.PerUser); err != nil {
				errs = append(errs, fmt.Errorf("rate_limit %s per-user %q: %w", name, rl.PerUser, err))
			}
		}
		rules[class] = r
	}
	return rules, errors.Join(errs...)
}

// parseRate reads "<count>/<period>" ("30/1m", "1000/1h") or "0" (no limit).
func parseRate(s string) (limiter.Rate, error) {
	if s == "0" {
		return limiter.Rate{}, nil
	}
	n, p, ok := strings.Cut(s, "/")
	count, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || count < 1 {
		return limiter.Rate{}, errors.New("want <count>/<period>, e.g. 30/1m, or 0")
	}
	d, err := caddy.ParseDuration(p)
	if err != nil || d <= 0 {
		return limiter.Rate{}, errors.New("want <count>/<period>, e.g. 30/1m, or 0")
	}
	return limiter.Rate{Limit: count, Period: d}, nil
}
