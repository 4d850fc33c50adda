package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Tokens is what the token endpoint needs (token.Service).
type Tokens interface {
	Issue(ctx context.Context, ws store.Workspace, c token.Client, e *session.Entry) (token.Grant, error)
	Refresh(ctx context.Context, ws store.Workspace, c token.Client, refresh string) (token.Grant, error)
	Revoke(ctx context.Context, ws store.Workspace, c token.Client, refresh string) error
}

// KeySet publishes the public signing keys (token.KeyRing).
type KeySet interface {
	JWKS() []byte
}

// tokenPages is the token endpoint and the published keys.
type tokenPages struct{ *Portal }

func itoa(n int) string { return strconv.Itoa(n) }

// refreshCookieName is the browser's refresh-token cookie. Not __Host-: that prefix
// demands Path=/, and this cookie goes only to the token endpoint; __Secure- with no
// Domain keeps it host-only and HTTPS-only all the same.
func refreshCookieName(https bool) string {
	if https {
		return "__Secure-gatehouse_refresh"
	}
	return "gatehouse_refresh"
}

func (p tokenPages) refreshPath() string { return p.path("/api/v1/token") }

func (p tokenPages) tokenClient(c *call) token.Client {
	return token.Client{Origin: audit.Origin{IP: c.ClientIP, UserAgent: c.r.UserAgent(), RequestID: c.RequestID},
		Site: token.Site{HTTPS: c.HTTPS, Host: c.r.Host, Audience: p.TokenAudience}}
}

// apiToken: POST /api/v1/token {"client":"native"?, "refresh_token"?} →
// {"access_token","token_type":"Bearer","expires_in":900}. A refresh token (the body's
// for native clients, else the browser's cookie) is rotated; without one, the full
// session of the cookie gets a new token family. Browsers get the refresh token in an
// HTTP-only cookie only the token endpoint receives, native clients in the answer.
func (p tokenPages) apiToken(c *call) error {
	var body struct {
		Client       string `json:"client"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	native := body.Client == "native"
	if body.Client != "" && !native && body.Client != "browser" {
		return errorf(http.StatusBadRequest, "invalid_request", `client is "browser" (the default) or "native".`)
	}
	refresh, fromCookie := body.RefreshToken, false
	if refresh == "" && !native {
		refresh = cookie(c.r, refreshCookieName(c.HTTPS))
		fromCookie = refresh != ""
	}
	var g token.Grant
	var err error
	if refresh != "" {
		g, err = p.Tokens.Refresh(c.r.Context(), c.Workspace, p.tokenClient(c), refresh)
		if fromCookie && errors.Is(err, token.ErrInvalidGrant) && !errors.Is(err, token.ErrRefreshReused) {
			// A stale cookie of an ended session (the browser signed in again since):
			// the session cookie, when there is a full session, starts a new family
			// (whose cookie replaces the stale one).
			refresh = ""
		}
	}
	if refresh == "" {
		var e *session.Entry
		if e, err = p.session(c); err != nil {
			return err
		}
		if e == nil {
			if fromCookie {
				p.clearRefreshCookie(c)
			}
			return p.noSession(c)
		}
		g, err = p.Tokens.Issue(c.r.Context(), c.Workspace, p.tokenClient(c), e)
	}
	if err != nil {
		if errors.Is(err, token.ErrInvalidGrant) && !native {
			p.clearRefreshCookie(c)
		}
		return err
	}
	out := map[string]any{"access_token": g.AccessToken, "token_type": "Bearer", "expires_in": int(g.ExpiresIn / time.Second)}
	if native {
		out["refresh_token"] = g.RefreshToken
		out["refresh_expires_in"] = int(g.RefreshExpires.Sub(p.Clock.Now()) / time.Second)
	} else {
		http.SetCookie(c.w, &http.Cookie{Name: refreshCookieName(c.HTTPS), Value: g.RefreshToken, Path: p.refreshPath(),
			Expires: g.RefreshExpires, Secure: c.HTTPS, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	c.w.Header().Set("Cache-Control", "no-store")
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// noSession answers a token request without a refresh token or a full session; a
// half-done sign-in is told what is missing (it gets no token: the second factor
// cannot be skipped here).
func (p tokenPages) noSession(c *call) error {
	pending, err := p.SignIn.Pending(c.r.Context(), c.Workspace, p.client(c))
	if err != nil {
		return unavailable(err)
	}
	if pending != nil {
		return errorf(http.StatusUnauthorized, "second_factor_required", "Finish signing in (the second factor) first.")
	}
	return errorf(http.StatusUnauthorized, "unauthenticated", "Sign in first, or send a refresh token.")
}

// apiTokenRevoke: POST /api/v1/token/revoke {"refresh_token"?} → 200: the refresh
// token's family and session end (the answer is the same for any token).
func (p tokenPages) apiTokenRevoke(c *call) error {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	refresh := body.RefreshToken
	if refresh == "" {
		refresh = cookie(c.r, refreshCookieName(c.HTTPS))
	}
	if err := p.Tokens.Revoke(c.r.Context(), c.Workspace, p.tokenClient(c), refresh); err != nil {
		return unavailable(err)
	}
	p.clearRefreshCookie(c)
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "revoked"})
	return nil
}

func (p tokenPages) clearRefreshCookie(c *call) {
	http.SetCookie(c.w, &http.Cookie{Name: refreshCookieName(c.HTTPS), Value: "", Path: p.refreshPath(), MaxAge: -1,
		Secure: c.HTTPS, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// jwks: GET /.well-known/jwks.json — the public keys that verify access tokens and
// assertions, cacheable for a few minutes (new keys are published well before use).
func (p tokenPages) jwks(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age="+itoa(int(token.JWKSMaxAge/time.Second)))
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(p.Keys.JWKS())
}
