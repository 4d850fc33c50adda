package main

import (
	"bufio"
	"math"
	"strings"
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

func TestSummarizePairsAndRatios(t *testing.T) {
	rounds := []roundResult{
		{Pair: 1, Variant: "A", Position: 1, ReqPerSec: 1000, ServerCPUUsPerReq: 100},
		{Pair: 1, Variant: "B", Position: 2, ReqPerSec: 950, ServerCPUUsPerReq: 105},
		{Pair: 2, Variant: "B", Position: 1, ReqPerSec: 800, ServerCPUUsPerReq: 110},
		{Pair: 2, Variant: "A", Position: 2, ReqPerSec: 1000, ServerCPUUsPerReq: 100},
		{Pair: 3, Variant: "A", Position: 1, ReqPerSec: 500, ServerCPUUsPerReq: 90},
		{Pair: 3, Variant: "B", Position: 2, ReqPerSec: 500, ServerCPUUsPerReq: 92},
		{Pair: 4, Variant: "A", Position: 1, ReqPerSec: 700}, // incomplete pair: skipped
	}
	s := summarize(rounds)
	if len(s.Pairs) != 3 {
		t.Fatalf("pairs = %d, want 3", len(s.Pairs))
	}
	wantRatios := []float64{0.95, 0.8, 1.0}
	wantOrder := []string{"AB", "BA", "AB"}
	for i, p := range s.Pairs {
		if math.Abs(p.Ratio-wantRatios[i]) > 1e-12 || p.Order != wantOrder[i] {
			t.Errorf("pair %d: ratio %v order %s, want %v %s", p.Pair, p.Ratio, p.Order, wantRatios[i], wantOrder[i])
		}
	}
	// The median of paired ratios is not the ratio of the medians.
	if s.MedianRatio != 0.95 {
		t.Errorf("median ratio = %v, want 0.95", s.MedianRatio)
	}
	if s.MedianA != 1000 || s.MedianB != 800 {
		t.Errorf("medians A %v B %v, want 1000 800", s.MedianA, s.MedianB)
	}
	if s.MinRatio != 0.8 || s.MaxRatio != 1.0 {
		t.Errorf("range %v..%v, want 0.8..1", s.MinRatio, s.MaxRatio)
	}
	if s.MedianACPU != 100 || s.MedianBCPU != 105 {
		t.Errorf("cpu medians %v %v, want 100 105", s.MedianACPU, s.MedianBCPU)
	}
	// CPU ratios A/B per pair: 100/105, 100/110, 90/92.
	if want := 90.0 / 92; math.Abs(s.MedianCPU-100.0/105) > 1e-12 || math.Abs(s.Pairs[2].CPURatio-want) > 1e-12 {
		t.Errorf("cpu ratio median %v pair3 %v", s.MedianCPU, s.Pairs[2].CPURatio)
	}
}

func testData() tmplData {
	return tmplData{
		Binary: "/opt/gate house/gatehouse", Dir: "/tmp/pb", Config: "/tmp/pb/Caddyfile.B",
		Addr: "127.0.0.1:4001", Port: 4001, Upstream: "127.0.0.1:5001",
		DB: "/tmp/pb/gh.db", Tenant: "default", Email: "bench@example.com",
	}
}

func TestRenderDefaultCaddyfiles(t *testing.T) {
	a, err := render("A", defaultCaddyfileA, testData())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admin off", "auto_https off", "http://127.0.0.1:4001 {", "reverse_proxy 127.0.0.1:5001"} {
		if !strings.Contains(a, want) {
			t.Errorf("Caddyfile A lacks %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "gatehouse") {
		t.Errorf("Caddyfile A mentions gatehouse:\n%s", a)
	}
	b, err := render("B", defaultCaddyfileB, testData())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"store sqlite:///tmp/pb/gh.db", "tenant default", "default_policy signed_in", "http://127.0.0.1:4001 {", "reverse_proxy 127.0.0.1:5001"} {
		if !strings.Contains(b, want) {
			t.Errorf("Caddyfile B lacks %q:\n%s", want, b)
		}
	}
	if _, err := render("bad", "{{.Nope}}", testData()); err == nil {
		t.Error("unknown template field accepted")
	}
}

func TestRenderCommandKeepsValuesWhole(t *testing.T) {
	argv, err := renderCommand("user", defaultUserCmd, testData())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/opt/gate house/gatehouse", "user", "add", "--config", "/tmp/pb/Caddyfile.B",
		"--tenant", "default", "--email", "bench@example.com", "--role", "owner", "--password-stdin"}
	if strings.Join(argv, "|") != strings.Join(want, "|") {
		t.Errorf("argv = %q\nwant   %q", argv, want)
	}
	if _, err := renderCommand("empty", "  ", testData()); err == nil {
		t.Error("empty command accepted")
	}
}

func TestReadResponse(t *testing.T) {
	in := "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 302 Found\r\nLocation: /auth/login\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n" +
		"HTTP/1.0 200 OK\r\n\r\nrest-until-eof"
	br := bufio.NewReader(strings.NewReader(in))
	for i, want := range []struct {
		status    int
		closeConn bool
	}{{200, false}, {302, false}, {204, true}, {200, true}} {
		status, closeConn, err := readResponse(br)
		if err != nil || status != want.status || closeConn != want.closeConn {
			t.Fatalf("response %d: %d %v %v, want %d %v", i, status, closeConn, err, want.status, want.closeConn)
		}
	}
	if _, _, err := readResponse(bufio.NewReader(strings.NewReader("garbage\r\n"))); err == nil {
		t.Error("malformed status line accepted")
	}
}

func TestBuildRequest(t *testing.T) {
	got := string(buildRequest("127.0.0.1:1", "/r/A01", []string{"Cookie: gatehouse=x"}))
	want := "GET /r/A01 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: proxybench\r\nAccept: */*\r\nCookie: gatehouse=x\r\n\r\n"
	if got != want {
		t.Errorf("request = %q, want %q", got, want)
	}
}

func TestProcParsers(t *testing.T) {
	stat := "1234 (caddy (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	d, err := parseProcStatCPU(stat)
	if err != nil || d != 3*time.Second {
		t.Errorf("parseProcStatCPU = %v %v, want 3s", d, err)
	}
	ps := "cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 10 1 20 999 5 2 3 4 0 0\ncpu1 1 1 1 1 1 1 1 1 0 0\n"
	busy, err := parseCoreBusy(ps, 0)
	if err != nil || busy != 10+1+20+2+3+4 {
		t.Errorf("parseCoreBusy = %v %v, want 40", busy, err)
	}
	if _, err := parseCoreBusy(ps, 7); err == nil {
		t.Error("missing cpu accepted")
	}
}

func TestPairImbalance(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y roundResult
		want float64
	}{
		{"steady other load cancels out",
			roundResult{ServerCPUUtil: 0.60, ServerCoreOther: 0.40, ClientCoreOther: 0.50},
			roundResult{ServerCPUUtil: 0.62, ServerCoreOther: 0.38, ClientCoreOther: 0.52}, 0.02},
		{"burst on the server core in one round",
			roundResult{ServerCPUUtil: 0.99, ServerCoreOther: 0.01},
			roundResult{ServerCPUUtil: 0.69, ServerCoreOther: 0.31}, 0.30},
		{"client core loaded but the server stayed saturated",
			roundResult{ServerCPUUtil: 0.98, ServerCoreOther: 0.01, ClientCoreOther: 0.30},
			roundResult{ServerCPUUtil: 0.99, ServerCoreOther: 0.01}, 0.01},
		{"client core starved, server idle",
			roundResult{ServerCPUUtil: 0.70, ClientCoreOther: 0.25},
			roundResult{ServerCPUUtil: 0.99}, 0.25},
		{"server that blocks is not interference",
			roundResult{ServerCPUUtil: 0.99},
			roundResult{ServerCPUUtil: 0.60}, 0},
	} {
		if got := pairImbalance(tc.x, tc.y); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: pairImbalance = %v, want %v", tc.name, got, tc.want)
		}
	}
}
