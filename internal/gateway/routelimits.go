package gateway

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// RouteLimit throttles requests to a path pattern per client IP (and per signed-in user).
type RouteLimit struct {
	Path    string
	PerIP   ratelimit.Rule // only its PerIP and PerUser rates are used
	Methods []string
}

// RouteLimits are the compiled route limits of a site: the first matching pattern's
// limit applies.
type RouteLimits struct {
	match   *policy.Policy
	limiter *ratelimit.Limiter
}

// NewRouteLimits compiles limits over the limiter's stores.
func NewRouteLimits(limits []RouteLimit, base *ratelimit.Limiter) (*RouteLimits, error) {
	rules := make([]policy.Rule, len(limits))
	classes := map[ratelimit.Class]ratelimit.Rule{}
	for i, l := range limits {
		rules[i] = policy.Rule{Path: l.Path, Methods: l.Methods, Access: policy.Deny}
		classes[routeClass(i)] = l.PerIP
	}
	m, err := policy.Compile(rules, policy.Public)
	if err != nil {
		return nil, fmt.Errorf("route limits: %w", err)
	}
	return &RouteLimits{match: m, limiter: base.WithRules(classes)}, nil
}

func routeClass(i int) ratelimit.Class { return ratelimit.Class(fmt.Sprintf("route%d", i)) }

// allow counts the request against its route's limit; false when the limit is reached.
func (rl *RouteLimits) allow(r *http.Request, d *Decision, host, path, clientIP string) bool {
	pd := rl.match.Decide(host, r.Method, path)
	if pd.Rule < 0 {
		return true
	}
	user := ""
	if d.Entry != nil {
		user = d.Entry.User.ID
	}
	res := rl.limiter.Allow(r.Context(), routeClass(pd.Rule), clientIP, user)
	if !res.Allowed {
		d.RetryAfter = res.RetryAfter
	}
	return res.Allowed
}
