// Command proxybench measures what Gatehouse costs proxied traffic (SPEC §13):
// the built binary over loopback HTTP/1.1, the servers pinned to CPU 0 with
// GOMAXPROCS=1, this process (load generator and upstream) to CPU 1 (taskset).
//
//	go run ./bench/proxybench -binary bin/gatehouse          # A, B, C
//	go run ./bench/proxybench -binary bin/gatehouse -flood   # B alone, B under a sign-in flood
//
// A is plain Caddy reverse_proxy and B Gatehouse + reverse_proxy, both sent
// the same request with the session cookie; C is plain reverse_proxy with the
// client sending, instead of the cookie, the identity headers the upstream got
// from B: the floor of carrying them. With -flood, F is B while closed-loop
// clients post failing sign-ins for unknown addresses, each from its own
// X-Forwarded-For address (trusted from loopback) so that per-IP limits never
// fire, at bcrypt cost 12.
//
// Each group runs every variant once, in rotating order (A B C, C B A, …), on
// fresh server processes; a round warms up on its connections, then measures.
// The upstream's count of each round's requests, and of those carrying
// X-Gatehouse-User-Id, must match the 200s the load generator got. Reported:
// the median over groups of each paired ratio, and the server's CPU per request
// from /proc/PID/stat, which other load on the machine hardly moves.
//
// Exit status: 0 measured (even under target); 1 error (setup, over 0.1 %
// failed requests, an upstream count or identity-header mismatch, a flood
// that never reached the password check); 2 usage; 3 the first median ratio
// (B/A, with -flood F/B) below -min-ratio.
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
	rounds, conns    int
	duration, warmup time.Duration
	floodWarmup      time.Duration
	flood            bool
	minRatio         float64
}

const floodConns = 8 // closed-loop sign-in clients

// variant is what a round measures: a server and the request sent to it.
type variant struct {
	label, desc string
	srv         *server
	headers     []string
	flood       bool
}

// Over six groups every variant runs twice in each place.
var (
	proxyOrders = []string{"ABC", "CBA", "BCA", "ACB", "CAB", "BAC"}
	floodOrders = []string{"BF", "FB"}
)

func main() {
	c := config{}
	flag.StringVar(&c.binary, "binary", "", "gatehouse binary, e.g. bin/gatehouse (required)")
	flag.IntVar(&c.rounds, "rounds", 6, "groups; each runs every variant once")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "measured window of each round")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "warm-up of each round before its window")
	flag.DurationVar(&c.floodWarmup, "flood-warmup", 8*time.Second, "warm-up of a flood round: the burst the sign-in budget allows after a quiet round is spent before the window, so the figure is a sustained flood's")
	flag.IntVar(&c.conns, "conns", 32, "keep-alive connections of the proxied load")
	flag.BoolVar(&c.flood, "flood", false, "B alone against B under a sign-in flood, instead of A, B, C")
	flag.Float64Var(&c.minRatio, "min-ratio", 0, "exit 3 when the first median ratio is below this (0 = never)")
	flag.Parse()
	if c.binary == "" || flag.NArg() > 0 || c.rounds < 1 || c.conns < 1 || c.duration <= 0 || c.warmup < 0 {
		fmt.Fprintln(os.Stderr, "proxybench: -binary is required; counts and -duration must be positive")
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
	gate, err2 := newServer(c, "B", up.addr, true, c.flood)
	if err = errors.Join(err, err2); err != nil {
		return 0, err
	}
	servers := []*server{gate}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	vs := []*variant{{label: "B", desc: "gatehouse + reverse_proxy", srv: gate}}
	orders, plain := proxyOrders, []string{"A", "C"}
	ratios := []ratio{{Num: "B", Den: "A", Target: 0.95}, {Num: "C", Den: "A"}, {Num: "B", Den: "C", Target: 0.98}}
	if c.flood {
		orders, plain, ratios = floodOrders, nil, []ratio{{Num: "F", Den: "B", Target: 0.80}}
		vs = append(vs, &variant{label: "F", desc: "B during the sign-in flood", srv: gate, flood: true})
	}
	for _, l := range plain {
		s, err := newServer(c, l, up.addr, false, false)
		if err != nil {
			return 0, err
		}
		servers = append(servers, s)
		vs = append(vs, &variant{label: l, desc: "caddy reverse_proxy", srv: s})
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
	byLabel := map[string]*variant{}
	for _, v := range vs { // B first: C's headers are what the upstream got from B
		byLabel[v.label] = v
		v.headers = append(slices.Clip(browserHeaders), cookie)
		if ident := up.identity("B"); v.label == "C" {
			v.headers = append(slices.Clip(browserHeaders), ident...)
			v.desc += fmt.Sprintf(", the client sending B's %d identity headers", len(ident))
			logf("C sends %s", strings.Join(ident, " | "))
		}
		if err := probe(v); err != nil {
			return 0, err
		}
		if v.label == "B" && len(up.identity("B")) == 0 {
			return 0, errors.New("the upstream got no identity headers from B")
		}
		logf("%s = %s (%s, pid %d)", v.label, v.desc, v.srv.addr, v.srv.cmd.Process.Pid)
	}

	var rounds []round
	var flood counts
	var floodTime time.Duration
	for g := 1; g <= c.rounds; g++ {
		if g > 1 {
			if err := restart(); err != nil { // fresh processes average out per-process bias
				return 0, err
			}
		}
		for _, l := range strings.Split(orders[(g-1)%len(orders)], "") {
			r := runRound(c, byLabel[l], g, &flood)
			floodTime += r.FloodTime
			logf("group %d %s: %6.0f req/s, server %5.1f us/req, server core %3.0f%%, errors %d %s",
				g, l, r.ReqPerSec, r.CPUus, 100*r.Core, r.Errors, r.Sample)
			rounds = append(rounds, r)
		}
	}
	ratios = summarize(rounds, ratios)
	printReport(os.Stdout, c, vs, rounds, ratios)
	problems := verify(rounds, up)
	if c.flood {
		problems = append(problems, checkFlood(&flood)...)
		fmt.Printf("flood, %d clients: %d sign-ins in %.1f s = %.1f/s; by status: %s\n", floodConns, flood.total(),
			floodTime.Seconds(), float64(flood.total())/floodTime.Seconds(), flood.outcomes())
	}
	if len(problems) > 0 {
		return 0, errors.New("PROBLEMS:\n  " + strings.Join(problems, "\n  "))
	}
	return ratios[0].Median, nil
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
	var res counts
	drive(v.srv.addr, c.conns, func() []byte { return req }, &stop, from, to, &res)
	stop.Store(true)
	wg.Wait()
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

// verify cross-checks every round with the upstream: it got at least the
// 200s and at most every request, and identity headers on all requests of
// B, C and F and on none of A's.
func verify(rounds []round, up *upstream) []string {
	var problems []string
	var all, failed int64
	for _, r := range rounds {
		n, ident := up.seen(r.Key)
		all, failed = all+r.OK+r.Errors, failed+r.Errors
		if n < r.OK || n > r.OK+r.Errors {
			problems = append(problems, fmt.Sprintf("%s: the upstream got %d requests, the load generator %d × 200 and %d errors", r.Key, n, r.OK, r.Errors))
		}
		want := n
		if r.Variant == "A" {
			want = 0
		}
		if ident != want {
			problems = append(problems, fmt.Sprintf("%s: %d of %d upstream requests carried %s, want %d", r.Key, ident, n, userIDHeader, want))
		}
	}
	if all == 0 || failed*1000 > all {
		problems = append(problems, fmt.Sprintf("%d of %d proxied requests failed (more than 0.1 %%)", failed, all))
	}
	return problems
}
