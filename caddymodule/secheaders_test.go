package caddymodule

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// appHandler answers like an upstream that sets some headers itself.
func appHandler(set map[string]string, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range set {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "app")
	}
}

func serveWith(t testing.TB, s SecurityHeaders, https bool, app http.Handler) http.Header {
	t.Helper()
	c, err := s.compile()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	app.ServeHTTP(c.wrap(rec, https), httptest.NewRequest("GET", "/", nil))
	return rec.Result().Header
}

func TestSecurityHeadersDefaults(t *testing.T) {
	h := serveWith(t, SecurityHeaders{}, true, appHandler(nil, 200))
	want := map[string]string{
		"Strict-Transport-Security": "max-age=31536000",
		"X-Frame-Options":           "SAMEORIGIN",
		"Referrer-Policy":           "strict-origin-when-cross-origin",
		"X-Content-Type-Options":    "nosniff",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if h.Get("Content-Security-Policy") != "" {
		t.Errorf("a CSP was sent without the operator giving one: %q", h.Get("Content-Security-Policy"))
	}
}

func TestSecurityHeadersHSTSOnlyOnHTTPS(t *testing.T) {
	h := serveWith(t, SecurityHeaders{}, false, appHandler(nil, 200))
	if v := h.Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS on a plain HTTP response: %q", v)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("the other headers must still be sent over HTTP")
	}
}

func TestSecurityHeadersAppWins(t *testing.T) {
	app := appHandler(map[string]string{"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"}, 201)
	s := SecurityHeaders{CSP: "default-src 'self'"}
	h := serveWith(t, s, true, app)
	if got := h.Values("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" {
		t.Errorf("app's X-Frame-Options replaced or doubled: %q", got)
	}
	if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != "default-src 'none'" {
		t.Errorf("app's CSP replaced or doubled: %q", got)
	}
	if h.Get("Referrer-Policy") != defaultReferrerPolicy {
		t.Error("a header the app lacks must be added")
	}

	s.Override = true
	h = serveWith(t, s, true, app)
	if got := h.Values("X-Frame-Options"); len(got) != 1 || got[0] != "SAMEORIGIN" {
		t.Errorf("override: X-Frame-Options = %q, want only SAMEORIGIN", got)
	}
	if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != "default-src 'self'" {
		t.Errorf("override: CSP = %q, want only the operator's", got)
	}
}

func TestSecurityHeadersOff(t *testing.T) {
	s := SecurityHeaders{HSTS: "off", FrameOptions: "off", ReferrerPolicy: "OFF", ContentTypeOptions: "off"}
	h := serveWith(t, s, true, appHandler(nil, 200))
	for _, k := range []string{"Strict-Transport-Security", "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
		if h.Get(k) != "" {
			t.Errorf("%s sent though off", k)
		}
	}
}

// Write without WriteHeader (an implicit 200) and a streamed body (ReadFrom, Flush
// first) carry the headers too; a 103 Early Hints does not use them up.
func TestSecurityHeadersEveryWritePath(t *testing.T) {
	for name, app := range map[string]http.HandlerFunc{
		"write": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) },
		"readfrom": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("x"))
		},
		"flush": func(w http.ResponseWriter, r *http.Request) { _ = http.NewResponseController(w).Flush() },
	} {
		h := serveWith(t, SecurityHeaders{}, true, app)
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff on the response", name)
		}
	}
	c, _ := (&SecurityHeaders{}).compile()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = c.wrap(w, false)
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("X-Frame-Options", "DENY")
		w.WriteHeader(200)
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Values("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("after 103 Early Hints: X-Frame-Options %q, nosniff %q", got, res.Header.Get("X-Content-Type-Options"))
	}
}

// A later handler changing a value in place must not change what the next response gets.
func TestSecurityHeadersValuesNotShared(t *testing.T) {
	c, err := (&SecurityHeaders{}).compile()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w := c.wrap(rec, true)
	w.WriteHeader(200)
	rec.Header()["X-Frame-Options"][0] = "changed"
	rec2 := httptest.NewRecorder()
	c.wrap(rec2, true).WriteHeader(200)
	if got := rec2.Header().Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Fatalf("second response X-Frame-Options = %q", got)
	}
}

// A WebSocket upgrade through the wrapper still hijacks the connection.
func TestSecurityHeadersHijack(t *testing.T) {
	c, _ := (&SecurityHeaders{}).compile()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(c.wrap(w, false)).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
		conn.Close()
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Fatalf("hijack through the wrapper failed: %q", line)
	}
}

func TestSecurityHeadersValidation(t *testing.T) {
	for _, s := range []SecurityHeaders{
		{HSTS: "31536000"}, {HSTS: "max-age=60"}, {HSTS: "max-age=31536000; includeSubdomain"},
		{FrameOptions: "ALLOW-FROM https://x"}, {ReferrerPolicy: "strict"}, {ContentTypeOptions: "yes"},
		{CSP: "default-src 'self'\r\nSet-Cookie: x=1"}, {CSP: "self"},
	} {
		if _, err := s.compile(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	c, err := (&SecurityHeaders{HSTS: "max-age=63072000; includesubdomains; PRELOAD", FrameOptions: "deny",
		ReferrerPolicy: "no-referrer, strict-origin-when-cross-origin"}).compile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.vals[:c.n], "|"); got != "max-age=63072000; includeSubDomains; preload|DENY|no-referrer, strict-origin-when-cross-origin|nosniff" {
		t.Errorf("normalised values = %s", got)
	}
}

// BenchmarkSecurityHeaders is what security_headers adds to a proxied response: the
// wrapper (one allocation) and the header map entries.
func BenchmarkSecurityHeaders(b *testing.B) {
	c, err := (&SecurityHeaders{CSP: "default-src 'self'"}).compile()
	if err != nil {
		b.Fatal(err)
	}
	h := make(http.Header, 16)
	rw := headerOnly{h}
	ct := []string{"text/html"}
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		h["Content-Type"] = ct
		c.wrap(rw, true).WriteHeader(200)
	}
}

// headerOnly is a ResponseWriter that keeps nothing but its header map.
type headerOnly struct{ h http.Header }

func (w headerOnly) Header() http.Header         { return w.h }
func (w headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w headerOnly) WriteHeader(int)             {}
