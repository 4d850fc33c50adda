package identity

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// folds reports whether name, in the spelling an app that folds case and '_' would
// read, is one of names.
func folds(name string, names ...string) bool {
	for _, n := range names {
		if len(n) == len(name) && foldEqual(name, fold(n)) {
			return true
		}
	}
	return false
}

func TestStripperStripsEverySpellingOfTheDefaults(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"x_forwarded_user":               {"admin"},
		"X-FORWARDED-EMAIL":              {"admin@example.com"},
		"X-Forwarded-Email":              {"second@example.com", "third@example.com"},
		"X-Forwarded-Preferred-Username": {"root"},
		"X-Remote-User":                  {"admin", "admin2"},
		"x_auth_request_user":            {"admin"},
		"X-Auth-Request-Email":           {"admin@example.com"},
		"X-Original-Url":                 {"/admin"},
		"X_REWRITE_URL":                  {"/admin"},
		"X-Gatehouse-User-Id":            {"u-admin"},
		"remote_user":                    {"root"},
		"Accept":                         {"text/html"},
		"X-Forwarded-For":                {"203.0.113.9"},
		"X-Forwarded-Host":               {"app.example"},
	}
	if n := DefaultStripper().Strip(h); n != 11 {
		t.Errorf("Strip removed %d headers, want 11", n)
	}
	for k := range h {
		if folds(k, DefaultForeignHeaders...) || IsIdentityHeader(k) {
			t.Errorf("%s survived", k)
		}
	}
	// Not identity headers: Caddy's trusted_proxies decides about X-Forwarded-For/-Host.
	for _, k := range []string{"Accept", "X-Forwarded-For", "X-Forwarded-Host"} {
		if _, ok := h[k]; !ok {
			t.Errorf("%s removed", k)
		}
	}
}

func TestStripperConnectionTokens(t *testing.T) {
	t.Parallel()
	h := http.Header{"Connection": {"keep-alive, X-Remote-User", "x_forwarded_email,X-Gatehouse-Roles"}}
	if n := DefaultStripper().Strip(h); n != 1 {
		t.Errorf("Strip = %d, want 1 (the rewritten Connection)", n)
	}
	if got := h["Connection"]; len(got) != 1 || got[0] != "keep-alive" {
		t.Errorf("Connection = %q, want [keep-alive]", got)
	}
	h = http.Header{"Connection": {"X-REMOTE-USER"}}
	DefaultStripper().Strip(h)
	if _, ok := h["Connection"]; ok {
		t.Errorf("Connection naming only stripped headers should go, got %q", h["Connection"])
	}
	h = http.Header{"Connection": {"keep-alive, Upgrade"}}
	if n := DefaultStripper().Strip(h); n != 0 || h.Get("Connection") != "keep-alive, Upgrade" {
		t.Errorf("harmless Connection changed: %d, %q", n, h["Connection"])
	}
}

func TestStripperKeepAndExtra(t *testing.T) {
	t.Parallel()
	s, err := NewStripper([]string{"X-Webauth-User", "x_forwarded_user", "Remote-User"}, []string{"x_forwarded_email"})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{
		"X-Forwarded-Email": {"a@example.com", "b@example.com"},
		"X_webauth_user":    {"admin"},
		"X-WEBAUTH-USER":    {"admin"},
		"X-Forwarded-User":  {"admin"},
		"X-Remote-User":     {"admin"},
		"Remote-User":       {"admin"},
		"Connection":        {"X-Webauth-User, X-Forwarded-Email"},
	}
	s.Strip(h)
	if got := h["X-Forwarded-Email"]; len(got) != 2 {
		t.Errorf("kept header X-Forwarded-Email = %q, want both values", got)
	}
	for _, k := range []string{"X_webauth_user", "X-WEBAUTH-USER", "X-Forwarded-User", "X-Remote-User", "Remote-User"} {
		if _, ok := h[k]; ok {
			t.Errorf("%s survived", k)
		}
	}
	// A kept header stays nameable in Connection, as it would be without Gatehouse.
	if got := h.Get("Connection"); got != "X-Forwarded-Email" {
		t.Errorf("Connection = %q, want X-Forwarded-Email", got)
	}
	if s.Strips("X-Forwarded-Email") || !s.Strips("x-webauth-user") || !s.Strips("X-Gatehouse-Anything") {
		t.Error("Strips disagrees with Strip")
	}
}

func TestStripperNilAndZeroAreDefault(t *testing.T) {
	t.Parallel()
	var nilS *Stripper
	for _, s := range []*Stripper{nilS, {}} {
		for _, name := range append([]string{"X-Gatehouse-User-Id", "Remote-User"}, DefaultForeignHeaders...) {
			if !s.Strips(name) {
				t.Errorf("%#v.Strips(%q) = false", s, name)
			}
		}
		h := http.Header{"X_Forwarded_User": {"admin"}, "Connection": {"X-Remote-User"}}
		if n := s.Strip(h); n != 2 || len(h) != 0 {
			t.Errorf("%#v.Strip = %d, left %v", s, n, h)
		}
	}
	// A Stripper built with everything kept still strips Gatehouse's own names.
	all, err := NewStripper(nil, DefaultForeignHeaders)
	if err != nil {
		t.Fatal(err)
	}
	if all.Strips("X-Forwarded-User") || !all.Strips("x_gatehouse_roles") || !all.Strips("REMOTE_GROUPS") {
		t.Error("keeping every default changed the own names or kept nothing")
	}
}

// TestStripIdentityHeadersIsOwnNamesOnly: StripIdentityHeaders keeps its meaning.
func TestStripIdentityHeadersIsOwnNamesOnly(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Forwarded-User": {"admin"}, "X-Gatehouse-User-Id": {"u"}, "Connection": {"X-Remote-User"}}
	StripIdentityHeaders(h)
	if h.Get("X-Forwarded-User") != "admin" || h.Get("Connection") != "X-Remote-User" || h.Get("X-Gatehouse-User-Id") != "" {
		t.Errorf("StripIdentityHeaders: %v", h)
	}
}

func TestStripsNearMisses(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"", "X", "X-Forwarded-Users", "X-Forwarded-Use", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Remote-Addr", "X-Original-URI", "X-Auth-Request-Emails", "Sec-Ch-Ua-Mobile", "Cache-Control", "Sec-Fetch-Site",
	} {
		if DefaultStripper().Strips(name) {
			t.Errorf("Strips(%q) = true", name)
		}
	}
}

func TestNewStripperRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		extra, keep []string
		want        []string // substrings of the error
	}{
		{extra: []string{"X Bad"}, want: []string{`"X Bad"`, "not a valid HTTP header name"}},
		{extra: []string{""}, want: []string{`""`, "not a valid"}},
		{extra: []string{"X-Foo:"}, want: []string{`"X-Foo:"`}},
		{extra: []string{"X-Ünï"}, want: []string{"X-Ünï"}},
		{keep: []string{"X-Bad\n"}, want: []string{`"X-Bad\n"`, "not a valid"}},
		{keep: []string{"X-Forwarded-For"}, want: []string{`"X-Forwarded-For"`, "not one of the headers stripped by default", "X-Rewrite-URL"}},
		{keep: []string{"X-Gatehouse-User-Id"}, want: []string{`"X-Gatehouse-User-Id"`, "always stripped"}},
		{keep: []string{"x_gatehouse_whatever"}, want: []string{"always stripped"}},
		{keep: []string{"remote_user"}, want: []string{`"remote_user"`, "always stripped"}},
		{extra: []string{"x_remote_user"}, keep: []string{"X-Remote-User"}, want: []string{`"x_remote_user"`, "both stripped and kept"}},
		// Every problem at once.
		{extra: []string{"a b", "X-Ok"}, keep: []string{"Remote-User", "X-Nope"},
			want: []string{`"a b"`, `"Remote-User"`, `"X-Nope"`}},
	}
	for _, c := range cases {
		s, err := NewStripper(c.extra, c.keep)
		if err == nil {
			t.Errorf("NewStripper(%q, %q) = %v, want an error", c.extra, c.keep, s)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("NewStripper(%q, %q): %q does not mention %q", c.extra, c.keep, err, w)
			}
		}
	}
	for _, name := range append([]string{"X-Gatehouse-User-Id", "Remote-Name"}, DefaultForeignHeaders...) {
		if _, err := NewStripper([]string{name, strings.ToLower(name)}, nil); err != nil {
			t.Errorf("an extra name already stripped should be accepted: %v", err)
		}
	}
}

func TestStripNothingDoesNotAllocate(t *testing.T) {
	s, err := NewStripper([]string{"X-Webauth-User", "X-Proxy-User"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := browserHeaders()
	for name, s := range map[string]*Stripper{"default": DefaultStripper(), "extra": s, "nil": nil} {
		if a := testing.AllocsPerRun(100, func() { s.Strip(h) }); a != 0 {
			t.Errorf("%s: %v allocations with nothing to strip", name, a)
		}
	}
	if len(h) != len(browserHeaders()) {
		t.Fatal("a browser header was stripped")
	}
}

// TestStripperThroughAProxy sends forged headers, raw, to a front server that strips
// them, sets X-Remote-User for the upstream (as an operator's header_up would) and
// proxies with httputil.ReverseProxy, which deletes the headers Connection names. The
// control run without Strip shows that the attack works there, so the test can fail.
func TestStripperThroughAProxy(t *testing.T) {
	t.Parallel()
	raw := "GET /admin HTTP/1.1\r\nHost: app.example\r\n" +
		"x_forwarded_user: admin\r\n" +
		"X-FORWARDED-EMAIL: admin@example.com\r\n" +
		"X-Forwarded-Email: second@example.com\r\n" +
		"X-Original-URL: /admin\r\n" +
		"X-Webauth-User: admin\r\n" +
		"x-gatehouse-user-id: u-admin\r\n" +
		"Connection: close, X-Remote-User\r\n\r\n"
	forged := []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Original-URL", "X-Webauth-User", "X-Gatehouse-User-Id"}

	run := func(strip func(http.Header)) http.Header {
		got := make(chan http.Header, 1)
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.Header.Clone()
		}))
		defer upstream.Close()
		target, _ := url.Parse(upstream.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			strip(r.Header)
			r.Header.Set("X-Remote-User", "alice")
			proxy.ServeHTTP(w, r)
		}))
		defer front.Close()

		conn, err := net.Dial("tcp", front.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, raw)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-got
	}

	s, err := NewStripper([]string{"X-Webauth-User"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := run(func(h http.Header) { s.Strip(h) })
	for k := range h {
		if folds(k, forged...) {
			t.Errorf("upstream received forged %s: %q", k, h[k])
		}
	}
	if h.Get("X-Remote-User") != "alice" {
		t.Errorf("upstream X-Remote-User = %q, want alice (a Connection token deleted it)", h.Get("X-Remote-User"))
	}

	control := run(func(http.Header) {})
	if control.Get("X-Remote-User") == "alice" || control.Get("X_forwarded_user") != "admin" {
		t.Errorf("control: the attack should work without Strip: %v", control)
	}
}

// browserHeaders is a realistic navigation request from a current browser over
// HTTP/1.1 (Host is not in the map in net/http).
func browserHeaders() http.Header {
	return http.Header{
		"Accept":             {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Encoding":    {"gzip, deflate, br, zstd"},
		"Accept-Language":    {"en-GB,en;q=0.9"},
		"Connection":         {"keep-alive"},
		"Cookie":             {"gatehouse=abc; theme=dark"},
		"Referer":            {"https://app.example/deals"},
		"Sec-Ch-Ua":          {`"Chromium";v="140", "Not=A?Brand";v="24"`},
		"Sec-Ch-Ua-Platform": {`"Linux"`},
		"Sec-Fetch-Dest":     {"document"},
		"Sec-Fetch-Mode":     {"navigate"},
		"Sec-Fetch-Site":     {"same-origin"},
		"User-Agent":         {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"},
	}
}

// BenchmarkStrip compares StripIdentityHeaders (own names) with Stripper.Strip (own
// names, the defaults and two extra names) on a browser's headers. "clean": nothing to
// strip, so the map is left as it is and the loop times the strip alone; it must not
// allocate. "forged": each iteration refills the map first, which "refill" measures
// alone (subtract it); deleting keys does not allocate, rewriting Connection does.
func BenchmarkStrip(b *testing.B) {
	s, err := NewStripper([]string{"X-Webauth-User", "X-Proxy-User"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	strips := []struct {
		name  string
		strip func(http.Header) int
	}{
		{"StripIdentityHeaders", StripIdentityHeaders},
		{"Stripper", s.Strip},
	}
	for _, st := range strips {
		b.Run("clean/"+st.name, func(b *testing.B) {
			h := browserHeaders()
			b.ReportAllocs()
			for b.Loop() {
				st.strip(h)
			}
			if len(h) != len(browserHeaders()) {
				b.Fatal("a browser header was stripped")
			}
		})
	}

	forged := browserHeaders()
	for k, v := range map[string][]string{
		"X-Forwarded-User": {"admin"}, "x_forwarded_email": {"admin@example.com"},
		"X-Remote-User": {"admin", "admin"}, "X-Gatehouse-User-Id": {"u-admin"}, "Remote_user": {"root"},
	} {
		forged[k] = v
	}
	forgedConn := forged.Clone()
	forgedConn["Connection"] = []string{"keep-alive, X-Remote-User"}
	strips = append([]struct {
		name  string
		strip func(http.Header) int
	}{{"refill", func(http.Header) int { return 0 }}}, strips...)
	for _, in := range []struct {
		name string
		h    http.Header
	}{{"forged", forged}, {"forged+connection", forgedConn}} {
		for _, st := range strips {
			b.Run(in.name+"/"+st.name, func(b *testing.B) {
				h := in.h.Clone()
				b.ReportAllocs()
				for b.Loop() {
					for k, v := range in.h {
						h[k] = v
					}
					st.strip(h)
				}
			})
		}
	}
}
