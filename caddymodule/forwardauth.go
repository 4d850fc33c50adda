package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// validForwardAuthEndpoint checks forward_auth_endpoint: a clean absolute path, not
// the site root and not under the portal prefix — the front proxy sends the portal to
// Gatehouse as browsers ask for it, while the verify route must be reachable by the
// proxy alone (README "Forward auth"). An empty portal skips that check (the
// Caddyfile, before the portal is known).
func validForwardAuthEndpoint(p, portal string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || p == "/" || path.Clean(p) != p || strings.ContainsAny(p, "*{}?#%\\ \t\r\n") {
		return fmt.Errorf("forward_auth_endpoint %q: must be a clean absolute path such as /_gatehouse/verify", p)
	}
	if portal != "" && (p == portal || strings.HasPrefix(p, portal+"/")) {
		return fmt.Errorf("forward_auth_endpoint %q: must not be under the portal prefix %s, which the front proxy passes to Gatehouse for browsers", p, portal)
	}
	return nil
}

// serveForwardAuth answers a front proxy's verify request (nginx auth_request, Traefik
// forwardAuth, Caddy forward_auth): the request it asks about is rebuilt from the
// X-Forwarded-* headers — believed only when the direct peer is in the server's
// trusted_proxies — and decided like a proxied request, with the same audit records and
// metrics. "?proxy=nginx" on the verify URL asks for nginx's statuses: a browser's
// sign-in is answered 401 with the Location instead of 302.
func (h *Handler) serveForwardAuth(w http.ResponseWriter, r *http.Request, s *site) {
	gw := s.gw
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	fr, https, err := gateway.ForwardedRequest(r, trusted)
	if err != nil {
		if errors.Is(err, gateway.ErrUntrustedPeer) {
			h.log.Debug("forward auth: refused a verify request from a peer outside trusted_proxies", zap.String("remote", r.RemoteAddr))
		}
		gw.RefuseForwarded(w, r, err)
		return
	}
	d := gw.Decide(fr, https, clientIP(r))
	switch d.Outcome {
	case gateway.Allow:
		if !s.audit.forwarded(fr, d) {
			gw.Respond(w, fr, gateway.Decision{Outcome: gateway.Unavailable})
			return
		}
	case gateway.Deny, gateway.Forbidden:
		s.audit.denied(fr, d, gw)
	}
	gw.AnswerForwardAuth(w, fr, d, r.URL.Query().Get("proxy") == "nginx")
}

// forwarded records an allowed forward-auth request when its route records this
// method, as a proxied request whose upstream status Gatehouse does not see (none is
// given; via forward_auth). False — answer 503 — while the audit spool is full: a
// request that cannot be recorded does not go through.
func (au *auditing) forwarded(fr *http.Request, d gateway.Decision) bool {
	if !au.policy.Audited(d.Rule, fr.Method) {
		return true
	}
	if au.commit.Saturated() {
		au.log.Error("audit spool full: refusing an audited request until the store is back")
		return false
	}
	p := audit.ProxiedRequest{TenantID: d.Workspace.TenantID(), Method: fr.Method, Host: fr.Host,
		Path: fr.URL.EscapedPath(), Rule: au.policy.RuleName(d.Rule), Via: audit.ViaForwardAuth,
		Origin: audit.Origin{IP: clientIP(fr), UserAgent: fr.UserAgent(), RequestID: requestID(fr)}, Start: time.Now()}
	if d.Entry != nil {
		p.Actor = audit.Actor{UserID: d.Entry.User.ID, Email: d.Entry.User.Email, SessionID: d.Entry.Session.ID}
	}
	au.commit.Enqueue(p.Record())
	return true
}
