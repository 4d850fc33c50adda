package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// endpointClass sorts portal requests into rate-limit classes; static assets are free.
func endpointClass(method, sub string) (ratelimit.Class, bool) {
	switch {
	case strings.HasPrefix(sub, "/static/"):
		return "", false
	case method == http.MethodPost && (sub == "/login" || sub == "/api/v1/login"):
		return ratelimit.Login, true
	case method == http.MethodPost && (sub == "/login/2fa" || sub == "/api/v1/login/totp" || sub == "/api/v1/login/recovery" ||
		strings.HasPrefix(sub, "/api/v1/webauthn/login/")):
		return ratelimit.SecondFactor, true
	case sub == "/api/v1/token":
		return ratelimit.Token, true
	default:
		return ratelimit.API, true
	}
}

// tooManyError is a refusal with a time to retry: a rate limit or a locked account.
type tooManyError struct{ retryAfter time.Duration }

func (e *tooManyError) Error() string {
	return fmt.Sprintf("too many attempts; retry after %v", e.retryAfter)
}

// asTooMany converts a lockout into a tooManyError.
func asTooMany(err error) (*tooManyError, bool) {
	var tm *tooManyError
	if errors.As(err, &tm) {
		return tm, true
	}
	if le, ok := authn.IsLocked(err); ok {
		return &tooManyError{retryAfter: le.RetryAfter}, true
	}
	return nil, false
}

// allow applies the limiter; when refused it answers 429 itself.
func (p *Portal) allow(w http.ResponseWriter, r *http.Request, req Request, class ratelimit.Class, ip, user string) bool {
	if p.Limiter == nil {
		return true
	}
	res := p.Limiter.Allow(r.Context(), class, ip, user)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.FormatInt(res.Limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(res.Remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(res.Reset.Unix(), 10))
	if res.Allowed {
		return true
	}
	if p.Metrics != nil {
		p.Metrics.RateLimited(string(class))
	}
	p.tooMany(w, r, req, res.RetryAfter)
	return false
}

// tooMany answers 429 with Retry-After, as JSON for API clients and a page otherwise.
func (p *Portal) tooMany(w http.ResponseWriter, r *http.Request, req Request, retry time.Duration) {
	secs := int64(math.Ceil(retry.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	if wantsJSON(r) || strings.Contains(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "too_many_requests", "retry_after": max(secs, 1)})
		return
	}
	p.message(w, http.StatusTooManyRequests, req, "Too many attempts",
		"Please wait "+humanWait(retry)+" and try again.", p.Prefix+"/login", "Back to sign-in")
}

func humanWait(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "a minute"
	case d < 2*time.Hour:
		return strconv.Itoa(int(math.Ceil(d.Minutes()))) + " minutes"
	default:
		return strconv.Itoa(int(math.Ceil(d.Hours()))) + " hours"
	}
}

func isTooMany(err error) bool { _, ok := asTooMany(err); return ok }

// limitUser applies the per-user limit of class (the user as typed); nil when allowed.
func (p *Portal) limitUser(ctx context.Context, class ratelimit.Class, user string) error {
	if p.Limiter == nil {
		return nil
	}
	res := p.Limiter.Allow(ctx, class, "", strings.ToLower(strings.TrimSpace(user)))
	if res.Allowed {
		return nil
	}
	if p.Metrics != nil {
		p.Metrics.RateLimited(string(class))
	}
	return &tooManyError{retryAfter: res.RetryAfter}
}

// auditLocked records that failures locked an account (and tells the operator's log).
func (p *Portal) auditLocked(ctx context.Context, r *http.Request, req Request, userID, email string, d time.Duration) error {
	if p.Metrics != nil {
		p.Metrics.Lockout()
	}
	rec := auditRecord(r, req, audit.ActionAccountLocked, audit.Denied)
	rec.ActorID, rec.ActorEmail, rec.Target = userID, truncate(email, 254), "user:"+userID
	rec.Details = map[string]string{"duration": d.String()}
	p.Logger.Warn("account locked after repeated failures", zap.String("user_id", userID), zap.Duration("duration", d))
	if err := p.writeAudit(ctx, req, rec); err != nil {
		return err
	}
	if userID != "" { // unknown addresses are locked alike, but there is nobody to tell
		p.lockedMail(ctx, r, req, email, d)
	}
	return nil
}
