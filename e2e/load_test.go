package e2e

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// proxiedLoad runs n closed-loop clients that fetch a protected route with cookie and
// counts the answers that reached the upstream as the user; anything else is a
// complaint.
func proxiedLoad(tr *traffic, c *http.Client, base, cookie, email string, n int, served *atomic.Int64) {
	tr.run(n, func(w, i int) (string, string) {
		h := send(c, "GET", fmt.Sprintf("%s/app/w%d/%d", base, w, i%64), "", "Cookie", cookie)
		if h.status != http.StatusOK || !strings.Contains(h.body, "as "+email) {
			return "proxied failed", fmt.Sprintf("signed-in request: %v", h)
		}
		served.Add(1)
		return "proxied", ""
	})
}

// TestLoginFloodKeepsProxiedThroughput: wrong-password sign-ins for unknown addresses,
// each from its own client address (a trusted proxy's X-Forwarded-For, so no per-IP
// limit ever stops them), flood the gateway at a realistic bcrypt cost while signed-in
// users keep using the proxied app. Measured in alternating windows of the same
// process — without the flood (B), with it (F) — proxied throughput during the flood
// stays at least 80 % of the windows without (SPEC §13, the sign-in CPU budget) when
// the gateway gets most of the machine, at least 50 % when other work leaves it less
// (see below), and the gateway's memory stays bounded.
func TestLoginFloodKeepsProxiedThroughput(t *testing.T) {
	up := newIdentityUpstream(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + t.TempDir() + "/gh.db", upstream: up.URL, site: siteConfig, admin: admin,
		bcryptCost: 11, global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}"})
	const email, pw = "busy@example.com", "a passphrase for the crowded hour"
	addUser(t, g, email, "member", pw)
	c := loadClient(t)
	cookie := signedIn(t, c, g.url, email, pw)

	var served atomic.Int64
	tr := newTraffic(t)
	proxiedLoad(tr, c, g.url, cookie, email, 4, &served)
	var flooding atomic.Bool
	var addr atomic.Int64
	flood := newTraffic(t)
	fc := loadClient(t)
	const floodClients = 48
	flood.run(floodClients, func(w, _ int) (string, string) {
		if !flooding.Load() {
			time.Sleep(20 * time.Millisecond)
			return "idle", ""
		}
		n := addr.Add(1)
		h := login(fc, g.url, fmt.Sprintf("nobody-%d@example.com", n), "not the password", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
		switch h.status {
		case http.StatusUnauthorized:
			return "hashed (401)", ""
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			if h.header.Get("Retry-After") == "" {
				return "refused", fmt.Sprintf("a refusal without Retry-After: %v", h)
			}
			return fmt.Sprintf("refused (%d)", h.status), ""
		}
		return "flood wrong", fmt.Sprintf("flood sign-in: %v", h)
	})

	rss := func() float64 { return metrics(t, admin)["process_resident_memory_bytes"] }
	time.Sleep(2 * time.Second) // warm-up
	before := rss()
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if v := int64(rss()); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	cpu := func() float64 { return metrics(t, admin)["process_cpu_seconds_total"] }
	var cpuB, timeB float64 // the gateway's CPU time in the windows without the flood
	window := func(d time.Duration, quiet bool) float64 {
		n0, c0, t0 := served.Load(), cpu(), time.Now()
		time.Sleep(d)
		el := time.Since(t0).Seconds()
		if quiet {
			cpuB, timeB = cpuB+cpu()-c0, timeB+el
		}
		return float64(served.Load()-n0) / el
	}
	// Pairs of windows: B without the flood, then F with it, once the flood has spent
	// the burst the budget saved during B (its first refusal), so F is a sustained
	// flood's figure. The median of the pairs' ratios, so that one window the machine's
	// other work happened to hit does not decide.
	const pairs = 8
	var ratios []float64
	var b, f float64
	for range pairs {
		bw := window(1500*time.Millisecond, true)
		refused := flood.count("refused (503)")
		flooding.Store(true)
		waitFor(t, "the flood to spend the sign-in budget's burst", func() bool { return flood.count("refused (503)") > refused })
		fw := window(1500*time.Millisecond, false)
		flooding.Store(false)
		ratios = append(ratios, fw/bw)
		b, f = b+bw, f+fw
		time.Sleep(1200 * time.Millisecond) // the held refusals finish
	}
	close(stopSampling)
	<-sampled
	tr.halt()
	flood.halt()
	tr.check("signed-in traffic")
	flood.check("the flood")
	slices.Sort(ratios)
	ratio := (ratios[pairs/2-1] + ratios[pairs/2]) / 2
	// The sign-in budget is a share of the machine's CPU (signin_cpu_share 0.15 of all
	// cores). On a machine the gateway has to itself that leaves proxied traffic >= 80 %
	// (bench/proxybench -flood measures 0.91); on a machine where other work leaves the
	// gateway less than 1.5 of its 2 cores the same budget is a larger part of what the
	// gateway gets, and the honest bound is that the flood still cannot starve it: >= 50 %
	// (without the budget the same flood left 14 %, README *Speed*).
	cores := cpuB / timeB
	want := 0.80
	if cores < 0.75*float64(runtime.NumCPU()) {
		want = 0.50
	}
	t.Logf("proxied req/s without the flood %.0f, during it %.0f; ratios of the %d pairs %.2f: median %.2f (want >= %.2f: the gateway used %.2f of %d cores without the flood); flood: %s; RSS %.0f MiB before, peak %.0f MiB",
		b/pairs, f/pairs, pairs, ratios, ratio, want, cores, runtime.NumCPU(), flood.summary(), before/mib, float64(peak.Load())/mib)
	if flood.count("hashed (401)") < 10 || flood.count("refused (503)") < 50 {
		t.Errorf("the flood made only %s", flood.summary())
	}
	if ratio < want {
		t.Errorf("proxied throughput during the sign-in flood is %.0f%% of what it was without (median of %d pairs; want >= %.0f%%)", ratio*100, pairs, want*100)
	}
	// Bounded: the flood's 48 clients and their held answers cost connections and
	// goroutines, not a growing heap. 128 MiB over the level before is far above what
	// that needs and far below a leak of one request's state per attempt.
	if grown := float64(peak.Load()) - before; grown > 128*mib {
		t.Errorf("RSS grew by %.0f MiB during the flood (%.0f → %.0f MiB)", grown/mib, before/mib, float64(peak.Load())/mib)
	}
}

// soakDuration is GATEHOUSE_SOAK (a Go duration), 20 s by default.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("GATEHOUSE_SOAK")
	if s == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("GATEHOUSE_SOAK=%q: want a duration such as 2m", s)
	}
	return d
}

// TestSoakGoroutinesAndHeapFlat: a mixed load — signed-in reads and writes (audited),
// sign-ins and sign-outs, wrong passwords from a fixed set of addresses and accounts
// (so locks and rate limits are hit), public pages and anonymous requests for
// protected routes — runs for GATEHOUSE_SOAK (20 s by default). Measured in a quiet
// moment after a warm-up of the same load and again at the end, after a garbage
// collection the test asks for (the admin endpoint's /debug/pprof/heap?gc=1): the
// goroutines are back to the warm level (+10, for background workers that happen to be
// running) and the heap in use within 25 % + 4 MiB of it — a leak of a few hundred
// bytes per request fails that after a minute of this load.
func TestSoakGoroutinesAndHeapFlat(t *testing.T) {
	dur := soakDuration(t)
	up := newIdentityUpstream(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + t.TempDir() + "/gh.db", upstream: up.URL, site: siteConfig, admin: admin,
		app: "rate_limit login 30/1m 0", global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}"})
	const email, pw = "soak@example.com", "a passphrase for the long afternoon"
	addUser(t, g, email, "member", pw)
	c := loadClient(t)
	cookie := signedIn(t, c, g.url, email, pw)

	load := func() *traffic {
		tr := newTraffic(t)
		var served atomic.Int64
		proxiedLoad(tr, c, g.url, cookie, email, 2, &served)
		tr.run(1, func(_, i int) (string, string) { // audited writes
			if h := send(c, "POST", fmt.Sprintf("%s/app/write/%d", g.url, i%32), "{}", "Cookie", cookie); h.status != http.StatusCreated {
				return "write failed", fmt.Sprintf("write: %v", h)
			}
			return "write", ""
		})
		tr.run(1, func(_, i int) (string, string) { // sign-in, use, sign-out, from 64 addresses
			addr := fmt.Sprintf("192.0.2.%d", i%64+1)
			h := login(c, g.url, email, pw, addr)
			if h.status == http.StatusTooManyRequests && h.header.Get("Retry-After") != "" {
				time.Sleep(100 * time.Millisecond)
				return "sign-in limited", "" // the per-address limit, 30 a minute
			}
			if h.status != http.StatusOK {
				return "sign-in failed", fmt.Sprintf("sign-in: %v", h)
			}
			// From the address that signed in: the portal's API limit is per address, and
			// one address signing out 64 users' sessions as fast as it can is not a user.
			if o := send(c, "POST", g.url+"/auth/api/v1/logout", "{}", "Cookie", h.cookie, "Content-Type", "application/json",
				"X-Forwarded-For", addr); o.status != http.StatusNoContent {
				return "sign-out failed", fmt.Sprintf("sign-out: %v", o)
			}
			if o := send(c, "GET", g.url+"/app/after", "", "Cookie", h.cookie); o.status != http.StatusFound {
				return "signed-out served", fmt.Sprintf("a signed-out session: %v", o)
			}
			return "sign-in/out", ""
		})
		tr.run(1, func(_, i int) (string, string) { // wrong passwords: 16 accounts, 16 addresses
			h := login(c, g.url, fmt.Sprintf("nobody-%d@example.com", i%16), "wrong password", fmt.Sprintf("198.51.100.%d", i%16+1))
			if !slices.Contains([]int{http.StatusUnauthorized, http.StatusTooManyRequests}, h.status) {
				return "wrong answer", fmt.Sprintf("wrong password: %v", h)
			}
			return fmt.Sprintf("wrong password %d", h.status), ""
		})
		tr.run(1, func(_, i int) (string, string) { // public pages and anonymous requests
			if i%2 == 0 {
				if h := send(c, "GET", g.url+"/public/page", ""); h.status != http.StatusOK {
					return "public failed", fmt.Sprintf("public: %v", h)
				}
				return "public", ""
			}
			if h := send(c, "GET", g.url+"/app/anon", ""); h.status != http.StatusFound {
				return "anonymous wrong", fmt.Sprintf("anonymous: %v", h)
			}
			return "anonymous", ""
		})
		return tr
	}
	// quiet stops the load, drops the idle connections and reads the gateway's
	// goroutines and heap after a forced collection (the lowest of three readings a
	// second apart, so one background job that happens to run does not count).
	quiet := func(tr *traffic, what string) (gor, heap float64) {
		t.Helper()
		tr.halt()
		tr.check(what)
		t.Logf("%s: %s", what, tr.summary())
		c.Transport.(*http.Transport).CloseIdleConnections()
		time.Sleep(2 * time.Second)
		gor, heap = -1, -1
		for range 3 {
			if st, _, _ := get(t, http.DefaultClient, "http://"+admin+"/debug/pprof/heap?gc=1"); st != http.StatusOK {
				t.Fatalf("forcing a collection: %d", st)
			}
			m := metrics(t, admin)
			if gor < 0 || m["go_goroutines"] < gor {
				gor = m["go_goroutines"]
			}
			if heap < 0 || m["go_memstats_heap_inuse_bytes"] < heap {
				heap = m["go_memstats_heap_inuse_bytes"]
			}
			time.Sleep(time.Second)
		}
		return gor, heap
	}

	warm := load()
	time.Sleep(5 * time.Second)
	gor0, heap0 := quiet(warm, "warm-up")
	soak := load()
	time.Sleep(dur)
	gor1, heap1 := quiet(soak, fmt.Sprintf("soak of %v", dur))
	t.Logf("after warm-up: %.0f goroutines, heap in use %.1f MiB; after the %v soak: %.0f goroutines, %.1f MiB",
		gor0, heap0/mib, dur, gor1, heap1/mib)
	if gor1 > gor0+10 {
		t.Errorf("goroutines %.0f after the soak, %.0f after warm-up: a leak", gor1, gor0)
	}
	if heap1 > heap0*1.25+4*mib {
		t.Errorf("heap in use %.1f MiB after the soak, %.1f MiB after warm-up (allowed: +25%% + 4 MiB)", heap1/mib, heap0/mib)
	}
	if n := up.anonymous.Load(); n != 0 {
		t.Errorf("the upstream got %d protected requests without an identity", n)
	}
}
