package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// oneTenant resolves every host to one workspace without a store (enough for requests
// that carry no credential).
type oneTenant struct{}

func (oneTenant) Resolve(context.Context, string) (store.Workspace, error) {
	return store.Workspace{Tenant: store.Tenant{ID: "t1", Slug: "default"}}, nil
}

// forwardAuthHandler is a handler wired by hand with a verify route, public /public/*
// and everything else signed-in.
func forwardAuthHandler(t *testing.T) *Handler {
	t.Helper()
	pol, err := policy.Compile([]policy.Rule{{Path: "/public/*", Access: policy.Public}}, policy.SignedIn)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Portal: "/auth", ForwardAuthEndpoint: "/_gatehouse/verify", log: zap.NewNop(), wired: new(wiring), policy: pol}
	gw := &gateway.Gateway{Prefix: "/auth", Tenants: oneTenant{}, Policy: pol, Logger: zap.NewNop()}
	h.wired.ready.Store(&site{gw: gw, audit: &auditing{policy: pol, log: zap.NewNop()}})
	return h
}

// verifyCall sends a verify request naming GET <target> on app.example.com; vars are
// Caddy's request variables (nil: none at all).
func verifyCall(t *testing.T, h *Handler, query, target, accept string, vars map[string]any) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", "/_gatehouse/verify"+query, nil)
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Host", "app.example.com")
	r.Header.Set("X-Forwarded-Uri", target)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("Accept", accept)
	if vars != nil {
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
	}
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Fatal("the verify route called the next handler")
		return nil
	})
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestForwardAuthTrustsOnlyTrustedProxies: the handler believes the forwarded request
// only when Caddy marked the direct peer as one of trusted_proxies; a spoofed
// X-Forwarded-Uri from any other peer (or with no mark at all) cannot pick the public
// rule: 403.
func TestForwardAuthTrustsOnlyTrustedProxies(t *testing.T) {
	h := forwardAuthHandler(t)
	untrusted := map[string]any{caddyhttp.TrustedProxyVarKey: false, caddyhttp.ClientIPVarKey: "198.51.100.7"}
	trusted := map[string]any{caddyhttp.TrustedProxyVarKey: true, caddyhttp.ClientIPVarKey: "203.0.113.9"}
	for name, vars := range map[string]map[string]any{"untrusted": untrusted, "no variables": nil} {
		if w := verifyCall(t, h, "", "/public/x", "", vars); w.Code != http.StatusForbidden {
			t.Fatalf("%s peer naming a public route: %d, want 403", name, w.Code)
		}
	}
	if w := verifyCall(t, h, "", "/public/x", "", trusted); w.Code != http.StatusOK {
		t.Fatalf("trusted proxy, public route: %d", w.Code)
	}
	const page = "/records/1?a=b&c=d"
	rd := "/auth/login?rd=" + url.QueryEscape(page)
	if w := verifyCall(t, h, "", page, "text/html", trusted); w.Code != http.StatusFound || w.Header().Get("Location") != rd {
		t.Fatalf("trusted proxy, browser signed out: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := verifyCall(t, h, "?proxy=nginx", page, "text/html", trusted); w.Code != http.StatusUnauthorized || w.Header().Get("Location") != rd {
		t.Fatalf("nginx, browser signed out: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := verifyCall(t, h, "", page, "application/json", trusted); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "unauthenticated") {
		t.Fatalf("trusted proxy, API client signed out: %d %s", w.Code, w.Body)
	}
}

func TestValidForwardAuthEndpoint(t *testing.T) {
	for p, ok := range map[string]bool{
		"": true, "/_gatehouse/verify": true, "/verify": true, "/authx/verify": true,
		"verify": false, "/": false, "/verify/": false, "/a//b": false, "/a/../b": false, "/a/./b": false,
		"/auth": false, "/auth/verify": false, "/v?x=1": false, "/v*": false, "/v%2f": false, "/v w": false,
	} {
		if err := validForwardAuthEndpoint(p, "/auth"); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%t", p, err, ok)
		}
	}
	h := &Handler{Portal: "/sso", DefaultPolicy: "signed_in", HomeURL: "/", ForwardAuthEndpoint: "/sso/verify"}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "portal prefix") {
		t.Fatalf("endpoint under a moved portal: %v", err)
	}
}
