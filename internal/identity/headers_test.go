package identity

import (
	"net/http"
	"testing"
)

func TestIsIdentityHeader(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"X-Gatehouse-User-Id", "x-gatehouse-user-id", "X_GATEHOUSE_USER_ID", "x_gatehouse_user_email",
		"X-Gatehouse-Anything-New", "X-GATEHOUSE-", "Remote-User", "remote_user", "REMOTE-GROUPS", "Remote_Email", "remote-name",
	} {
		if !IsIdentityHeader(name) {
			t.Errorf("IsIdentityHeader(%q) = false", name)
		}
	}
	for _, name := range []string{"X-Gatehouse", "X-Gatehousex-User", "Remote-Users", "Remote-Addr", "Remote", "Cookie", "X-Forwarded-For", ""} {
		if IsIdentityHeader(name) {
			t.Errorf("IsIdentityHeader(%q) = true", name)
		}
	}
}

func TestStripIdentityHeadersEverySpelling(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"X-Gatehouse-User-Id":    {"forged", "forged2"},
		"x-gatehouse-user-email": {"forged"},
		"X_gatehouse_roles":      {"owner"},
		"REMOTE_USER":            {"admin"},
		"Remote-Groups":          {"admins"},
		"Accept":                 {"text/html"},
		"Connection":             {"keep-alive, X-Gatehouse-User-Id", "remote_user"},
	}
	StripIdentityHeaders(h)
	for k := range h {
		if IsIdentityHeader(k) {
			t.Errorf("%s survived", k)
		}
	}
	if h.Get("Accept") != "text/html" {
		t.Error("unrelated header removed")
	}
	if got := h["Connection"]; len(got) != 1 || got[0] != "keep-alive" {
		t.Errorf("Connection = %q, want [keep-alive]", got)
	}

	h = http.Header{"Connection": {"X-Gatehouse-Roles"}}
	StripIdentityHeaders(h)
	if _, ok := h["Connection"]; ok {
		t.Errorf("Connection naming only identity headers should go, got %q", h["Connection"])
	}
}

func TestHeaderSetApplyReplacesAndIsolates(t *testing.T) {
	t.Parallel()
	f := Facts{UserID: "u1", Email: "a@example.com", Name: "A", TenantID: "t1", TenantSlug: "acme",
		Roles: []string{"admin", "member"}, Teams: []string{"sales"}, SessionID: "s1", AuthMethods: []string{"pwd", "otp"}}
	hs := NewHeaderSet(f)
	h := http.Header{}
	hs.Apply(h)
	want := map[string]string{
		HeaderUserID: "u1", HeaderUserEmail: "a@example.com", HeaderUserName: "A", HeaderTenantID: "t1",
		HeaderTenant: "acme", HeaderRoles: "admin,member", HeaderTeams: "sales", HeaderSessionID: "s1", HeaderAuthMethods: "pwd,otp",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if h.Get(HeaderRemoteUser) != "" {
		t.Error("Remote-User set by the X-Gatehouse set")
	}
	// A downstream Add must not write into the shared, cached values.
	h.Add(HeaderUserID, "appended")
	h2 := http.Header{}
	hs.Apply(h2)
	if got := h2.Values(HeaderUserID); len(got) != 1 || got[0] != "u1" {
		t.Fatalf("cached header set was modified through a request: %q", got)
	}
	hs.ApplyRemote(h2)
	if h2.Get(HeaderRemoteUser) != "a@example.com" || h2.Get(HeaderRemoteGroups) != "admin,member" {
		t.Errorf("remote headers: %v", h2)
	}
}

// BenchmarkStripAndApply: one allocation (the per-request copy of the values).
func BenchmarkStripAndApply(b *testing.B) {
	hs := NewHeaderSet(Facts{UserID: "u1", Email: "a@example.com", Roles: []string{"member"}})
	base := http.Header{"Accept": {"text/html"}, "User-Agent": {"bench"}, "Cookie": {"gatehouse=x"}, "Accept-Encoding": {"gzip"}}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		for k, v := range base {
			h[k] = v
		}
		StripIdentityHeaders(h)
		hs.Apply(h)
	}
}

func TestHeaderSetOmitsEmptyValues(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	NewHeaderSet(Facts{UserID: "u1", Email: "a@example.com", Roles: []string{"member"}}).Apply(h)
	if _, ok := h[HeaderTeams]; ok {
		t.Error("empty X-Gatehouse-Teams sent")
	}
	if _, ok := h[HeaderUserName]; ok {
		t.Error("empty X-Gatehouse-User-Name sent")
	}
	if h.Get(HeaderUserID) != "u1" {
		t.Error("user id missing")
	}
}

// TestApplyIsolatesRequests: editing a header value in place on one request (as
// Caddy's request_header replacement does) leaves the cached set and later requests alone.
func TestApplyIsolatesRequests(t *testing.T) {
	t.Parallel()
	hs := NewHeaderSet(Facts{UserID: "u1", Email: "a@example.com", Roles: []string{"member"}})
	h1 := http.Header{}
	hs.Apply(h1)
	h1[HeaderRoles][0] = "member-x"
	h2 := http.Header{}
	hs.Apply(h2)
	if h2.Get(HeaderRoles) != "member" {
		t.Fatalf("in-place edit leaked into the next request: %q", h2.Get(HeaderRoles))
	}
}
