// Command proxybench measures what Gatehouse costs proxied traffic (SPEC §13):
// the built binary over loopback HTTP/1.1, the servers pinned to CPU 0 with
// GOMAXPROCS=1, this process (load generator and upstream) to CPU 1 (taskset).
//
//	go run ./bench/proxybench -binary bin/gatehouse          # A B C E K T (-variants for P M)
//	go run ./bench/proxybench -binary bin/gatehouse -flood   # B alone, B under a sign-in flood
//
// Every variant sends the same browser-like request of a signed-in user:
//
//	A  plain Caddy reverse_proxy, with the session cookie
//	B  Gatehouse + reverse_proxy with its default identity headers (user id,
//	   e-mail, workspace, roles), the cookie
//	C  plain reverse_proxy, the client sending, instead of the cookie, the
//	   identity headers the upstream got from B: the floor of carrying them
//	E  Gatehouse with every header on (`identity_headers all`, the assertion
//	   among them, and `remote_headers`), the cookie
//	K  an in-process peer: Caddy's basic_auth (its hash cache on, as the
//	   Caddyfile sets it) and request_header setting three identity headers
//	   from its placeholders, Authorization: Basic
//	P  Gatehouse whose rule for the path requires a permission (bench:read,
//	   scope own: RBAC), the cookie; the upstream also gets
//	   X-Gatehouse-Permission and X-Gatehouse-Scope
//	T  B's server, an access token (Authorization: Bearer) instead of the
//	   cookie: the same token throughout, verified once per process
//	M  B's server, a never-seen access token on every request: each one
//	   verified (ECDSA). The tokens come from the token endpoint before the
//	   first group (-fresh-tokens of them, again when they near expiry); as
//	   the servers restart every group, each is new to the process each time.
//
// With -flood, F is B while closed-loop clients post failing sign-ins for
// unknown addresses, each from its own X-Forwarded-For address (trusted from
// loopback) so that per-IP limits never fire, at bcrypt cost 12.
//
// Each group runs every variant once on fresh server processes, the orders
// rotating in a balanced (Williams) design: over as many groups as variants
// (twice as many for an odd count) each variant runs once in every place
// and right after every other once. A round warms up on its connections,
// then measures. The upstream's count of each round's requests, and of those
// carrying X-Gatehouse-User-Id and X-Gatehouse-Assertion, must match the 200s
// the load generator got and what the variant sends. Reported: the median
// over groups of each paired ratio, and the server's CPU per request from
// /proc/PID/stat, which other load on the machine hardly moves. -profile B
// saves the server's CPU profile of each of B's windows (proxybench-B01.pprof
// …, for go tool pprof); the profiler slows those windows a little.
//
// Exit status: 0 measured (even under target); 1 error (setup, over 0.1 %
// failed requests, an upstream count or header mismatch, M's tokens running
// out, a flood that never reached the password check); 2 usage; 3 the first
// median ratio (B/A, with -flood F/B) below -min-ratio.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	binary, dir      string
	variants         string
	rounds, conns    int
	duration, warmup time.Duration
	floodWarmup      time.Duration
	freshTokens      int
	flood            bool
	minRatio         float64
	profile          string
}

const floodConns = 8 // closed-loop sign-in clients

// descriptions of the variants, by label.
var descriptions = map[string]string{
	"A": "caddy reverse_proxy",
	"B": "gatehouse + reverse_proxy, default identity headers",
	"C": "caddy reverse_proxy", // and the headers it carries
	"E": "gatehouse + reverse_proxy, every header on (identity_headers all, remote_headers)",
	"K": "caddy basic_auth (hash cache) + request_header x3 + reverse_proxy: an in-process peer",
	"P": "gatehouse + reverse_proxy, a route that requires a permission (RBAC)",
	"T": "B's server, a bearer token instead of the cookie (verified once, then cached)",
	"M": "B's server, a never-seen bearer token on every request",
	"F": "B during the sign-in flood",
}

// variant is what a round measures: a server and the request sent to it.
type variant struct {
	label, desc string
	srv         *server
	headers     []string
	fresh       []string // M: one never-seen token per request (headers, with another, serve the probe)
	flood       bool
}

// ratios are the paired comparisons reported, the first the one -min-ratio
// checks; those with a variant not run are left out.
var ratios = []ratio{
	{Num: "B", Den: "A", Target: 0.95, Note: "Gatehouse with its default headers"},
	{Num: "B", Den: "C", Target: 0.98, Note: "Gatehouse's own cost, apart from carrying the headers"},
	{Num: "B", Den: "K", Target: 1.00, Note: "against an in-process peer (basic_auth + three headers)"},
	{Num: "T", Den: "A", Target: 0.90, Note: "a cached bearer token"},
	{Num: "C", Den: "A", Note: "carrying the default identity headers"},
	{Num: "E", Den: "A", Note: "Gatehouse with every header on, the assertion among them"},
	{Num: "E", Den: "B", Note: "every header on against the default"},
	{Num: "K", Den: "A", Note: "the in-process peer"},
	{Num: "T", Den: "C", Note: "a cached bearer token, apart from carrying the headers"},
	{Num: "P", Den: "B", Note: "a permission route against a signed_in one"},
	{Num: "P", Den: "A", Note: "Gatehouse with an RBAC route"},
	{Num: "M", Den: "A", Note: "a never-seen bearer token on every request"},
	{Num: "M", Den: "T", Note: "verifying every token against the cache"},
	{Num: "F", Den: "B", Target: 0.80, Note: "during a sign-in flood"},
}

// balancedOrders returns a Williams design for labels: over its rows each label
// runs once in every place (twice for an odd count) and right after every
// other label once (twice).
func balancedOrders(labels string) []string {
	n := len(labels)
	rows := make([]string, 0, 2*n)
	for shift := range n {
		row := make([]byte, n)
		for j := range row {
			x := (j + 1) / 2 // the first row is 0, 1, n-1, 2, n-2, …
			if j > 0 && j%2 == 0 {
				x = n - j/2
			}
			row[j] = labels[(x+shift)%n]
		}
		rows = append(rows, string(row))
	}
	if n%2 == 1 {
		for _, r := range rows[:n] {
			b := []byte(r)
			slices.Reverse(b)
			rows = append(rows, string(b))
		}
	}
	return rows
}

func main() {
	c := config{}
	flag.StringVar(&c.binary, "binary", "", "gatehouse binary, e.g. bin/gatehouse (required)")
	flag.StringVar(&c.variants, "variants", "ABCEKT", "variants to run (not with -flood): A B C E K P T M, see the package doc")
	flag.IntVar(&c.rounds, "rounds", 6, "groups; each runs every variant once (a multiple of the variants' count balances the orders)")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "measured window of each round")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "warm-up of each round before its window")
	flag.DurationVar(&c.floodWarmup, "flood-warmup", 8*time.Second, "warm-up of a flood round: the burst the sign-in budget allows after a quiet round is spent before the window, so the figure is a sustained flood's")
	flag.IntVar(&c.conns, "conns", 32, "keep-alive connections of the proxied load")
	flag.IntVar(&c.freshTokens, "fresh-tokens", 20000, "never-seen tokens for M, minted beforehand; one M round's warm-up and window must not use them up")
	flag.BoolVar(&c.flood, "flood", false, "B alone against B under a sign-in flood, instead of the variants")
	flag.Float64Var(&c.minRatio, "min-ratio", 0, "exit 3 when the first median ratio is below this (0 = never)")
	flag.StringVar(&c.profile, "profile", "", "variants whose server's CPU profile is saved for each of their windows (proxybench-<label><group>.pprof), e.g. BT")
	flag.Parse()
	if c.flood {
		c.variants = "BF"
	}
	err := checkVariants(&c)
	if err == nil && (c.binary == "" || flag.NArg() > 0 || c.rounds < 1 || c.conns < 1 || c.duration <= 0 || c.warmup < 0) {
		err = errors.New("-binary is required; counts and -duration must be positive")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxybench: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	pinned, err := pinSelf()
	if !pinned {
		logf("WARNING: running unpinned (%v): results are less reliable", err)
	}
	first, err := bench(&c, pinned)
	if err != nil {
		logf("proxybench: %v", err)
		os.Exit(1)
	}
	if c.minRatio > 0 && first < c.minRatio {
		logf("proxybench: median ratio %.3f below -min-ratio %.3f", first, c.minRatio)
		os.Exit(3)
	}
}

// checkVariants requires known, distinct labels, a pool for M and a profiled
// variant that runs.
func checkVariants(c *config) error {
	for i, l := range c.variants {
		if descriptions[string(l)] == "" || strings.ContainsRune(c.variants[:i], l) || (l == 'F' && !c.flood) {
			return fmt.Errorf("-variants %q: distinct labels of A B C E K P T M", c.variants)
		}
	}
	switch {
	case c.variants == "":
		return errors.New("-variants is empty")
	case strings.Contains(c.variants, "M") && c.freshTokens < 1:
		return errors.New("M needs -fresh-tokens")
	case strings.Trim(c.profile, c.variants) != "":
		return fmt.Errorf("-profile %q: variants that run", c.profile)
	}
	return nil
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// bench runs the measurement and returns the first median ratio.
func bench(c *config, pinned bool) (float64, error) {
	var err error
	if c.binary, err = filepath.Abs(c.binary); err == nil {
		_, err = os.Stat(c.binary)
	}
	if err == nil {
		c.dir, err = os.MkdirTemp("", "proxybench-")
	}
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(c.dir)
	up, err := startUpstream()
	if err != nil {
		return 0, err
	}
	runs := func(labels string) bool { return strings.ContainsAny(c.variants, labels) }
	// The servers: B's (Gatehouse, default headers) also serves T, M and F and
	// signs in; A and C are plain reverse_proxy; E (every header) and P (RBAC)
	// are Gatehouse on the same store; K is Caddy's basic_auth.
	gate, err := newServer(c, "B", up.addr, site{gatehouse: true, flood: c.flood, minting: runs("M")})
	if err != nil {
		return 0, err
	}
	servers := []*server{gate}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	byServer := map[string]*server{"B": gate, "T": gate, "M": gate, "F": gate}
	for _, l := range "ACEKP" {
		if runs(string(l)) {
			s, err := newServer(c, string(l), up.addr, site{gatehouse: l == 'E' || l == 'P', every: l == 'E', rbac: l == 'P', basicAuth: l == 'K'})
			if err != nil {
				return 0, err
			}
			servers = append(servers, s)
			byServer[string(l)] = s
		}
	}
	restart := func() error {
		for _, s := range servers {
			s.stop()
			if err := s.start(c, pinned); err != nil {
				return err
			}
		}
		return nil
	}
	if err := addUser(c, gate); err != nil {
		return 0, err
	}
	if err := restart(); err != nil {
		return 0, err
	}
	cookie, err := login(gate.addr)
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, gate.tail())
	}
	browser := append(slices.Clip(browserHeaders), cookie)
	// What the upstream gets from B is what C's client sends.
	if err := probe(&variant{label: "B", srv: gate, headers: browser}); err != nil {
		return 0, err
	}
	ident := up.identity("B")
	if !slices.ContainsFunc(ident, func(h string) bool { return strings.HasPrefix(h, userIDHeader+":") }) {
		return 0, fmt.Errorf("the upstream got no identity headers from B: %q", ident)
	}

	byLabel := map[string]*variant{}
	var vs []*variant
	for _, l := range "BACEKPTMF" { // listed in this order
		if runs(string(l)) {
			v := &variant{label: string(l), desc: descriptions[string(l)], srv: byServer[string(l)], headers: browser, flood: l == 'F'}
			byLabel[v.label] = v
			vs = append(vs, v)
		}
	}
	if v := byLabel["C"]; v != nil {
		v.headers = append(slices.Clip(browserHeaders), ident...)
		v.desc += fmt.Sprintf(", the client sending B's %d identity headers (%d bytes)",
			len(ident), len(strings.Join(ident, "\r\n")))
		logf("C sends %s", strings.Join(ident, " | "))
	}
	if v := byLabel["K"]; v != nil {
		v.headers = append(slices.Clip(browserHeaders), basicAuthHeader)
	}
	// T's token and M's, minted anew when they near expiry (15 minutes).
	var minted time.Time
	mint := func() error {
		if time.Since(minted) < 10*time.Minute {
			return nil
		}
		t0 := time.Now()
		if v := byLabel["T"]; v != nil {
			tok, err := mintToken(gate.addr, cookie)
			if err != nil {
				return err
			}
			v.headers = append(slices.Clip(browserHeaders), "Authorization: Bearer "+tok)
		}
		if v := byLabel["M"]; v != nil {
			toks, err := mintTokens(gate.addr, cookie, c.freshTokens+1)
			if err != nil {
				return err
			}
			v.headers, v.fresh = append(slices.Clip(browserHeaders), "Authorization: Bearer "+toks[0]), toks[1:]
			logf("minted %d tokens for M in %.1f s", len(toks), time.Since(t0).Seconds())
		}
		minted = t0
		return nil
	}
	if err := mint(); err != nil {
		return 0, err
	}
	for _, v := range vs {
		if err := probe(v); err != nil {
			return 0, err
		}
		logf("%s = %s (%s, pid %d)", v.label, v.desc, v.srv.addr, v.srv.cmd.Process.Pid)
	}

	orders := balancedOrders(c.variants)
	var rounds []round
	var flood counts
	var floodTime time.Duration
	for g := 1; g <= c.rounds; g++ {
		// Fresh processes every group average out per-process bias, and none
		// of them has minted tokens (a process that wrote thousands of them
		// is slower for a while).
		if err := mint(); err != nil {
			return 0, err
		}
		if err := restart(); err != nil {
			return 0, err
		}
		for _, l := range strings.Split(orders[(g-1)%len(orders)], "") {
			r := runRound(c, byLabel[l], g, &flood)
			floodTime += r.FloodTime
			logf("group %d %s: %6.0f req/s, server %5.1f us/req, server core %3.0f%%, errors %d %s",
				g, l, r.ReqPerSec, r.CPUus, 100*r.Core, r.Errors, r.Sample)
			rounds = append(rounds, r)
		}
	}
	var wanted []ratio
	for _, r := range ratios {
		if runs(r.Num) && runs(r.Den) {
			wanted = append(wanted, r)
		}
	}
	results := summarize(rounds, wanted)
	printReport(os.Stdout, c, vs, rounds, results)
	reportOwnCPU(os.Stdout, c, rounds)
	problems := verify(rounds, up)
	if c.flood {
		problems = append(problems, checkFlood(&flood)...)
		fmt.Printf("flood, %d clients: %d sign-ins in %.1f s = %.1f/s; by status: %s\n", floodConns, flood.total(),
			floodTime.Seconds(), float64(flood.total())/floodTime.Seconds(), flood.outcomes())
	}
	if len(problems) > 0 {
		return 0, errors.New("PROBLEMS:\n  " + strings.Join(problems, "\n  "))
	}
	if len(results) == 0 { // one variant (e.g. a profile run): nothing to compare
		return 0, nil
	}
	return results[0].Median, nil
}

// probe requires a 200 for one request of v's.
func probe(v *variant) error {
	c, err := net.DialTimeout("tcp", v.srv.addr, 5*time.Second)
	status := 0
	if err == nil {
		defer c.Close()
		status, _, err = exchange(c, bufio.NewReader(c), buildRequest(v.srv.addr, "/r/probe-"+v.label, v.headers))
	}
	if err != nil || status != 200 {
		return fmt.Errorf("probe of %s: HTTP %d %v\n%s", v.label, status, err, v.srv.tail())
	}
	return nil
}

// runRound measures one round of v: warm-up, then the window. A flood runs
// from before the warm-up to the window's end, and every sign-in in flight
// gets its answer before the round ends.
func runRound(c *config, v *variant, group int, flood *counts) round {
	r := round{Group: group, Variant: v.label, Key: fmt.Sprintf("%s%02d", v.label, group)}
	req := buildRequest(v.srv.addr, "/r/"+r.Key, v.headers)
	next := func() []byte { return req }
	var fresh *freshPool
	if v.fresh != nil {
		fresh = newFreshPool(v.srv.addr, "/r/"+r.Key, browserHeaders, v.fresh)
		next = fresh.take
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	t0 := time.Now()
	if v.flood {
		wg.Go(func() { drive(v.srv.addr, floodConns, floodRequests(v.srv.addr), &stop, t0, time.Time{}, flood) })
	}
	warm := c.warmup
	if v.flood {
		warm = max(warm, c.floodWarmup)
	}
	from := time.Now().Add(warm)
	to := from.Add(c.duration)
	var cpu [2]time.Duration
	wg.Go(func() {
		for i, t := range []time.Time{from, to} {
			time.Sleep(time.Until(t))
			cpu[i] = procCPU(v.srv.cmd.Process.Pid)
		}
	})
	if strings.Contains(c.profile, v.label) {
		wg.Go(func() { profile(v.srv, r.Key, from, c.duration) })
	}
	var res counts
	drive(v.srv.addr, c.conns, next, &stop, from, to, &res)
	stop.Store(true)
	wg.Wait()
	r.Dry = fresh != nil && fresh.dry()
	if v.flood {
		r.FloodTime = time.Since(t0)
	}
	r.OK, r.Sample = res.status[200], res.sample
	r.Errors = res.total() - r.OK
	r.ReqPerSec = float64(res.measured) / c.duration.Seconds()
	r.Core = (cpu[1] - cpu[0]).Seconds() / c.duration.Seconds()
	if res.measured > 0 {
		r.CPUus = float64((cpu[1] - cpu[0]).Microseconds()) / float64(res.measured)
	}
	return r
}

// carries tells which headers the upstream must see on every request of a
// variant: Gatehouse's identity on all but A's and K's (K sets its own), the
// assertion on E's only.
func carries(label string) (identity, assertion bool) {
	return label != "A" && label != "K", label == "E"
}

// verify cross-checks every round with the upstream: it got at least the
// 200s and at most every request, and the identity headers and the assertion
// on all of a round's requests or none, as the variant sends (carries); and
// M's tokens did not run out.
func verify(rounds []round, up *upstream) []string {
	var problems []string
	var all, failed int64
	for _, r := range rounds {
		s := up.seen(r.Key)
		all, failed = all+r.OK+r.Errors, failed+r.Errors
		if s.requests < r.OK || s.requests > r.OK+r.Errors {
			problems = append(problems, fmt.Sprintf("%s: the upstream got %d requests, the load generator %d × 200 and %d errors", r.Key, s.requests, r.OK, r.Errors))
		}
		ident, assertion := carries(r.Variant)
		for _, h := range []struct {
			name string
			got  int64
			all  bool
		}{{userIDHeader, s.identity, ident}, {assertionHeader, s.assertion, assertion}} {
			if want := map[bool]int64{true: s.requests}[h.all]; h.got != want {
				problems = append(problems, fmt.Sprintf("%s: %d of %d upstream requests carried %s, want %d", r.Key, h.got, s.requests, h.name, want))
			}
		}
		if r.Dry {
			problems = append(problems, fmt.Sprintf("%s: its fresh tokens ran out: raise -fresh-tokens", r.Key))
		}
	}
	if all == 0 || failed*1000 > all {
		problems = append(problems, fmt.Sprintf("%d of %d proxied requests failed (more than 0.1 %%)", failed, all))
	}
	return problems
}
