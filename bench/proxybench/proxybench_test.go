package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{0.9, 1.1, 1.0, 0.95, 1.05, 0.97}, 0.985},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("median modified its input")
			}
		}
	}
}

func TestSummarizeThreeVariants(t *testing.T) {
	rounds := []round{
		{Group: 1, Variant: "A", ReqPerSec: 1000, CPUus: 100},
		{Group: 1, Variant: "B", ReqPerSec: 900, CPUus: 110},
		{Group: 1, Variant: "C", ReqPerSec: 950, CPUus: 105},
		{Group: 2, Variant: "C", ReqPerSec: 400, CPUus: 100},
		{Group: 2, Variant: "B", ReqPerSec: 400, CPUus: 100},
		{Group: 2, Variant: "A", ReqPerSec: 500, CPUus: 80},
		{Group: 3, Variant: "B", ReqPerSec: 800, CPUus: 125},
		{Group: 3, Variant: "A", ReqPerSec: 1000, CPUus: 100},
		{Group: 3, Variant: "C", ReqPerSec: 1000, CPUus: 100},
		{Group: 4, Variant: "A", ReqPerSec: 700}, // B and C missing: skipped
	}
	got := summarize(rounds, []ratio{{Num: "B", Den: "A", Target: 0.95}, {Num: "C", Den: "A"}, {Num: "B", Den: "C"}})
	// Medians of paired ratios, not ratios of medians (which would give B/C 800/950).
	want := []ratio{
		{Num: "B", Den: "A", Target: 0.95, Each: []float64{0.9, 0.8, 0.8}, Median: 0.8, CPU: 0.8},
		{Num: "C", Den: "A", Each: []float64{0.95, 0.8, 1}, Median: 0.95, CPU: 100.0 / 105},
		{Num: "B", Den: "C", Each: []float64{900.0 / 950, 1, 0.8}, Median: 900.0 / 950, CPU: 105.0 / 110},
	}
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
	for i := range want {
		g, w := got[i], want[i]
		ok := g.Num == w.Num && g.Den == w.Den && g.Target == w.Target && len(g.Each) == len(w.Each) &&
			near(g.Median, w.Median) && near(g.CPU, w.CPU)
		for j := range w.Each {
			ok = ok && near(g.Each[j], w.Each[j])
		}
		if !ok {
			t.Errorf("ratio %d = %+v\nwant      %+v", i, g, w)
		}
	}
	if s := summarize(nil, []ratio{{Num: "F", Den: "B"}}); len(s[0].Each) != 0 || s[0].Median != 0 {
		t.Errorf("no rounds: %+v", s[0])
	}
}

// TestBalancedOrders: over the design's rows every label runs equally often
// in every place and right after every other label, for the default
// variants, the old three and the flood's two.
func TestBalancedOrders(t *testing.T) {
	if got := strings.Join(balancedOrders("BF"), " "); got != "BF FB" {
		t.Errorf("flood orders %s", got)
	}
	for _, labels := range []string{"ABCDPTM", "ABCDTM", "ABC", "BF", "ABCDT", "A"} {
		orders := balancedOrders(labels)
		n := len(labels)
		times := 1 + n%2 // an odd count needs the mirrored rows too
		if len(orders) != times*n {
			t.Errorf("%s: %d rows", labels, len(orders))
		}
		places, follows := map[string]int{}, map[string]int{}
		for _, o := range orders {
			if len(o) != n || strings.Trim(labels, o) != "" {
				t.Fatalf("%s: row %s is no order of the labels", labels, o)
			}
			for i := range o {
				places[o[i:i+1]+string(rune('0'+i))]++
				if i > 0 {
					follows[o[i-1:i+1]]++
				}
			}
		}
		for _, x := range labels {
			for i := range n {
				if k := string(x) + string(rune('0'+i)); places[k] != times {
					t.Errorf("%s: %c in place %d %d times", labels, x, i, places[k])
				}
			}
			for _, y := range labels {
				if k := string(x) + string(y); x != y && follows[k] != times {
					t.Errorf("%s: %c right after %c %d times", labels, y, x, follows[k])
				}
			}
		}
	}
}

func TestIdentityLines(t *testing.T) {
	h := http.Header{
		"X-Gatehouse-User-Id":      {"0f5c2a7e9b3d4c1a8e6f0b2d4a6c8e0f"},
		"X-Gatehouse-User-Email":   {"bench@example.com"},
		"X-Gatehouse-Auth-Methods": {"password"},
		"Remote-User":              {"bench@example.com"},
		"Remote-Addr":              {"not ours"},
		"X-Forwarded-For":          {"127.0.0.1"},
		"Accept":                   {"*/*"},
	}
	got := strings.Join(identityLines(h), "\n")
	want := "Remote-User: bench@example.com\n" +
		"X-Gatehouse-Auth-Methods: password\n" +
		"X-Gatehouse-User-Email: bench@example.com\n" +
		"X-Gatehouse-User-Id: 0f5c2a7e9b3d4c1a8e6f0b2d4a6c8e0f"
	if got != want {
		t.Errorf("identityLines =\n%s\nwant\n%s", got, want)
	}
	// The lines make a request the upstream reads back as the same headers.
	req := buildRequest("u:1", "/r/C01", identityLines(h))
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(req))))
	if err != nil || r.Header.Get("X-Gatehouse-User-Id") != "0f5c2a7e9b3d4c1a8e6f0b2d4a6c8e0f" {
		t.Errorf("request %q: %v %v", req, err, r)
	}
}

func TestCaddyfile(t *testing.T) {
	plain := caddyfile("127.0.0.1:4001", "127.0.0.1:5001", "/tmp/pb/g.db", site{})
	want := "{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n}\n\n" +
		"http://127.0.0.1:4001 {\n\treverse_proxy 127.0.0.1:5001\n}\n"
	if plain != want {
		t.Errorf("plain Caddyfile:\n%s\nwant\n%s", plain, want)
	}
	gate := caddyfile("127.0.0.1:4001", "127.0.0.1:5001", "/tmp/pb/g.db", site{gatehouse: true})
	for _, s := range []string{"store sqlite:///tmp/pb/g.db", "tenant default", "default_policy signed_in", "reverse_proxy 127.0.0.1:5001"} {
		if !strings.Contains(gate, s) {
			t.Errorf("gatehouse Caddyfile lacks %q:\n%s", s, gate)
		}
	}
	for _, s := range []string{"trusted_proxies", "bcrypt", "assertion", "rate_limit", "admin 127"} {
		if strings.Contains(gate, s) {
			t.Errorf("throughput Caddyfile has %q:\n%s", s, gate)
		}
	}
	every := caddyfile("127.0.0.1:4001", "127.0.0.1:5001", "/tmp/pb/g.db", site{gatehouse: true, every: true, minting: true, admin: "127.0.0.1:4002"})
	for _, s := range []string{"\t\tidentity_headers all\n\t\tremote_headers\n\t}\n\treverse_proxy", "\t\trate_limit api 1000000/1m\n", "\tadmin 127.0.0.1:4002\n"} {
		if !strings.Contains(every, s) {
			t.Errorf("Caddyfile lacks %q:\n%s", s, every)
		}
	}
	peer := caddyfile("127.0.0.1:4001", "127.0.0.1:5001", "/tmp/pb/g.db", site{basicAuth: true})
	for _, s := range []string{"\tbasic_auth {\n\t\tbench $2a$10$", "\trequest_header X-Token-User-Id {http.auth.user.id}\n", "\treverse_proxy 127.0.0.1:5001"} {
		if !strings.Contains(peer, s) {
			t.Errorf("peer Caddyfile lacks %q:\n%s", s, peer)
		}
	}
	if strings.Contains(peer, "gatehouse") {
		t.Errorf("the peer runs Gatehouse:\n%s", peer)
	}
	flood := caddyfile("127.0.0.1:4001", "127.0.0.1:5001", "/tmp/pb/g.db", site{gatehouse: true, flood: true})
	for _, s := range []string{"\tservers {\n\t\ttrusted_proxies static 127.0.0.1/8\n\t}\n", "\t\tbcrypt_cost 12\n"} {
		if !strings.Contains(flood, s) {
			t.Errorf("flood Caddyfile lacks %q:\n%s", s, flood)
		}
	}
}

func TestFloodRequests(t *testing.T) {
	next := floodRequests("127.0.0.1:4001")
	seen := map[string]bool{}
	for range 3 {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(next()))))
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Email, Password string }
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
		xff := r.Header.Get("X-Forwarded-For")
		if r.Method != "POST" || r.URL.Path != "/auth/api/v1/login" || r.Header.Get("Content-Type") != "application/json" ||
			body.Password != "wrong password guess" || !strings.HasSuffix(body.Email, "@example.net") ||
			!strings.HasPrefix(xff, "10.") || seen[xff] || seen[body.Email] {
			t.Errorf("flood request %s %s %v %+v", r.Method, r.URL, r.Header, body)
		}
		seen[xff], seen[body.Email] = true, true
	}
}

func TestCheckFlood(t *testing.T) {
	if p := checkFlood(&counts{status: map[int]int64{401: 5, 503: 9, 429: 1}}); len(p) != 0 {
		t.Errorf("good flood: %v", p)
	}
	if p := checkFlood(&counts{status: map[int]int64{503: 9}}); len(p) != 1 {
		t.Errorf("flood without 401: %v", p)
	}
	if p := checkFlood(&counts{status: map[int]int64{401: 1, 415: 2, 0: 1}}); len(p) != 2 {
		t.Errorf("flood with 415 and transport errors: %v", p)
	}
}

// TestDrive runs the load generator against a recording server: every 200
// is counted, chunked and closing answers included, and measured ones only
// inside the window.
func TestDrive(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.Write([]byte("chunked"))
			w.(http.Flusher).Flush()
		case 1:
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte("body"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	req := buildRequest(addr, "/r/x", nil)
	var stop atomic.Bool
	var res counts
	from := time.Now().Add(200 * time.Millisecond)
	drive(addr, 4, func() []byte { return req }, &stop, from, from.Add(200*time.Millisecond), &res)
	if res.status[200] != n.Load() || res.total() != res.status[200] || res.measured == 0 || res.measured >= res.status[200] {
		t.Errorf("server got %d; counts %v, %d measured, sample %q", n.Load(), res.status, res.measured, res.sample)
	}
	if res.outcomes() != fmt.Sprintf("200 %d", n.Load()) {
		t.Errorf("outcomes %q", res.outcomes())
	}
}

func TestBuildRequest(t *testing.T) {
	got := string(buildRequest("127.0.0.1:1", "/r/A01", []string{"Cookie: gatehouse=x"}))
	want := "GET /r/A01 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: proxybench\r\nAccept: */*\r\nCookie: gatehouse=x\r\n\r\n"
	if got != want {
		t.Errorf("request = %q, want %q", got, want)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	stat := "1234 (caddy (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	if d := parseProcStatCPU(stat); d != 3*time.Second {
		t.Errorf("parseProcStatCPU = %v, want 3s", d)
	}
	if d := parseProcStatCPU("garbage"); d != 0 {
		t.Errorf("malformed stat: %v", d)
	}
}

// TestVerify: the upstream must have got every 200 (and no more than every
// request), identity headers on all of B's, C's, D's, T's, M's and F's
// requests and on none of A's and K's, the assertion on E's only, and at
// most 0.1 % may fail; M's tokens must not run out.
func TestVerify(t *testing.T) {
	up := &upstream{counts: map[string]tally{
		"A01": {1000, 0, 0}, "B01": {1000, 1000, 0}, "C01": {1002, 1002, 0}, // C: 2 errors reached the upstream
		"E01": {1000, 1000, 1000}, "K01": {1000, 0, 0}, "M01": {900, 900, 0},
		"A02": {1000, 3, 0}, "B02": {999, 999, 0}, "C02": {1000, 990, 0}, "E02": {1000, 1000, 0},
	}}
	rounds := []round{
		{Key: "A01", Variant: "A", OK: 1000}, {Key: "B01", Variant: "B", OK: 1000}, {Key: "C01", Variant: "C", OK: 1000, Errors: 2},
		{Key: "E01", Variant: "E", OK: 1000}, {Key: "K01", Variant: "K", OK: 1000}, {Key: "M01", Variant: "M", OK: 900},
	}
	if p := verify(rounds, up); len(p) != 0 {
		t.Errorf("good rounds: %v", p)
	}
	rounds = []round{
		{Key: "A02", Variant: "A", OK: 1000},           // identity headers on A
		{Key: "B02", Variant: "B", OK: 1000},           // the upstream missed one 200
		{Key: "C02", Variant: "C", OK: 1000},           // some of C's lacked them
		{Key: "E02", Variant: "E", OK: 1000},           // E's lacked the assertion
		{Key: "M01", Variant: "M", OK: 900, Dry: true}, // M's tokens ran out
	}
	if p := verify(rounds, up); len(p) != 5 {
		t.Errorf("bad rounds: %d problems %v, want 5", len(p), p)
	}
	if p := verify([]round{{Key: "A01", Variant: "A", OK: 997, Errors: 3}}, up); len(p) != 1 || !strings.Contains(p[0], "failed") {
		t.Errorf("error rate 0.3 %%: %v", p)
	}
}

// TestFreshPool: every request once, each with its own token, then nil.
func TestFreshPool(t *testing.T) {
	p := newFreshPool("u:1", "/r/M01", []string{"Accept-Language: en"}, []string{"t1", "t2"})
	for _, tok := range []string{"t1", "t2"} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(p.take()))))
		if err != nil || r.Header.Get("Authorization") != "Bearer "+tok || r.Header.Get("Accept-Language") != "en" || p.dry() {
			t.Fatalf("request with %s: %v %v", tok, r, err)
		}
	}
	if p.take() != nil || !p.dry() {
		t.Fatal("a request after the last")
	}
}

// TestParseShare reads the share go tool pprof prints for the focused stacks.
func TestParseShare(t *testing.T) {
	out := []byte("File: gatehouse\nType: cpu\nActive filters:\n   focus=x\nShowing nodes accounting for 0.04s, 1.42% of 2.81s total\n      flat  flat%\n")
	if s, err := parseShare(out); err != nil || s < 0.0141 || s > 0.0143 {
		t.Fatalf("share %v %v", s, err)
	}
	if _, err := parseShare([]byte("garbage")); err == nil {
		t.Fatal("no error for output without a share")
	}
}
