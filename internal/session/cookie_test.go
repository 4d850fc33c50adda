package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, https := range []bool{true, false} {
		w := httptest.NewRecorder()
		SetCookie(w, https, "tok", now.Add(30*24*time.Hour), now)
		c := w.Header().Get("Set-Cookie")
		for _, want := range []string{"Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=2592000"} {
			if !strings.Contains(c, want) {
				t.Errorf("https=%v: %q lacks %s", https, c, want)
			}
		}
		if https && (!strings.HasPrefix(c, "__Host-gatehouse=tok") || !strings.Contains(c, "Secure") || strings.Contains(c, "Domain=")) {
			t.Errorf("HTTPS cookie %q: want __Host- prefix, Secure, no Domain", c)
		}
		if !https && !strings.HasPrefix(c, "gatehouse=tok") {
			t.Errorf("HTTP cookie %q", c)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", strings.SplitN(c, ";", 2)[0])
		if TokenFromRequest(r, https) != "tok" || TokenFromRequest(r, !https) != "" {
			t.Errorf("https=%v: token read from the wrong cookie name", https)
		}
	}
	w := httptest.NewRecorder()
	ClearCookie(w, true)
	if c := w.Header().Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
		t.Errorf("clear: %q", c)
	}
	_ = http.StatusOK
}

func TestSecureRequest(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost:8080": false, "127.0.0.1:9000": false, "[::1]:80": false, "app.localhost": false,
		"example.com": true, "10.0.0.5:8080": true, "localhost.evil.example": true, "": true,
	} {
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.Host = host
		if got := SecureRequest(r); got != want {
			t.Errorf("plain HTTP to %q: secure=%v, want %v", host, got, want)
		}
	}
	r := httptest.NewRequest("GET", "https://localhost/", nil)
	if !SecureRequest(r) {
		t.Error("TLS request not secure")
	}
}
