// Command proxybench measures the throughput of plain Caddy reverse_proxy (A)
// against Gatehouse + reverse_proxy (B) to the same upstream, in one run, as
// SPEC §13 prescribes: loopback HTTP/1.1, server pinned to one core, load
// generator (and upstream) on another, variants interleaved in pairs
// (A B, B A, A B, …), every 200 cross-checked against the upstream's count,
// and the median paired ratio B/A reported.
//
//	go run ./bench/proxybench -binary ./gatehouse
//	go run ./bench/proxybench -binary /tmp/caddy -variant-b=false   # A vs A
//
// Each round also reads the server's CPU time (/proc/PID/stat) and how much of
// both pinned cores other processes took (/proc/stat). A pair whose two
// rounds were loaded unevenly by other work is run again (-retries); steady
// load cancels out in the paired ratio. The CPU-normalised ratio (A's server
// CPU per request / B's) is printed too, as it is insensitive to other load.
//
// Exit status: 0 measured (even under target), 1 errors (setup failure,
// error rate above -max-error-rate, upstream count mismatch), 2 usage,
// 3 median ratio below -min-ratio.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " | ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type config struct {
	binary         string
	conns          int
	duration       time.Duration
	warmup         time.Duration
	prewarm        time.Duration
	rounds         int
	variantB       bool
	auth           string
	headerSet      string
	caddyfileA     string
	caddyfileB     string
	userCmd        string
	setupCmds      stringList
	tenant         string
	email          string
	password       string
	cookieName     string
	expectHeader   string
	pin            bool
	serverCPU      int
	clientCPU      int
	serverProcs    int
	bodySize       int
	timeout        time.Duration
	startupTimeout time.Duration
	maxErrorRate   float64
	minRatio       float64
	target         float64
	jsonOut        string
	keep           bool
	retries        int
	restart        bool
	maxOther       float64
	pinned         bool // set after pinning succeeded
}

func main() {
	if os.Getenv(envRole) == "upstream" {
		os.Exit(runUpstream())
	}
	os.Exit(run())
}

func parseFlags() (*config, error) {
	c := &config{}
	fs := flag.CommandLine
	fs.StringVar(&c.binary, "binary", "", "server binary (Caddy with the gatehouse module; a stock caddy works with -variant-b=false) (required)")
	fs.IntVar(&c.conns, "conns", 32, "keep-alive connections of the load generator")
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "measured duration of each round")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up at the start of each round (same connections, not counted in req/s)")
	fs.DurationVar(&c.prewarm, "prewarm", 2*time.Second, "one unreported warm-up run per variant before the first pair")
	fs.IntVar(&c.rounds, "rounds", 6, "number of interleaved A/B pairs")
	fs.BoolVar(&c.variantB, "variant-b", true, "B is Gatehouse; false: B is a second plain reverse_proxy server (A vs A harness check)")
	fs.StringVar(&c.auth, "auth", "cookie", "credential sent on every request when B is Gatehouse: cookie (session from /auth/api/v1/login), bearer (access token from /auth/api/v1/token), none")
	fs.StringVar(&c.headerSet, "headers", "browser", "request headers besides the credential: browser (what a browser sends on a page load: Accept-*, Sec-Fetch-*, …) or minimal (Host, User-Agent, Accept)")
	fs.StringVar(&c.caddyfileA, "caddyfile-a", defaultCaddyfileA, "Caddyfile template for A (text/template; @FILE reads a file)")
	fs.StringVar(&c.caddyfileB, "caddyfile-b", defaultCaddyfileB, "Caddyfile template for B when Gatehouse (fields: .Addr .Port .Upstream .DB .Dir .Tenant .Email .Binary .Config; @FILE reads a file)")
	fs.StringVar(&c.userCmd, "user-cmd", defaultUserCmd, "command template creating the bench user before B starts (password on stdin; empty = skip)")
	fs.Var(&c.setupCmds, "setup-cmd", "extra command template run before -user-cmd (repeatable), e.g. '{{.Binary}} tenant create --config {{.Config}} --slug default --name Default'")
	fs.StringVar(&c.tenant, "tenant", "default", "tenant slug (.Tenant)")
	fs.StringVar(&c.email, "email", "bench@example.com", "bench user e-mail (.Email)")
	fs.StringVar(&c.password, "password", "", "bench user password (default: random)")
	fs.StringVar(&c.cookieName, "cookie-name", "gatehouse", "expected session cookie name (all cookies from the sign-in are sent; a warning if this one is missing)")
	fs.StringVar(&c.expectHeader, "expect-header", "X-Gatehouse-User-Id", "upstream checks that B's requests carry this header (empty = no check)")
	fs.BoolVar(&c.pin, "pin", true, "pin servers to -server-cpu and the load generator + upstream to -client-cpu")
	fs.IntVar(&c.serverCPU, "server-cpu", 0, "CPU for both server processes")
	fs.IntVar(&c.clientCPU, "client-cpu", 1, "CPU for the load generator and the upstream")
	fs.IntVar(&c.serverProcs, "server-gomaxprocs", 1, "GOMAXPROCS of the server processes (0 = inherit)")
	fs.IntVar(&c.bodySize, "body-size", 16, "upstream response body size in bytes")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.DurationVar(&c.startupTimeout, "startup-timeout", 30*time.Second, "how long to wait for a server to accept requests")
	fs.Float64Var(&c.maxErrorRate, "max-error-rate", 0.001, "fail (exit 1) when errors/requests exceeds this")
	fs.Float64Var(&c.minRatio, "min-ratio", 0, "fail (exit 3) when the median paired ratio is below this (0 = never)")
	fs.Float64Var(&c.target, "target", 0, "target ratio printed (0 = SPEC §13: 0.95 cookie, 0.90 bearer)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the result as JSON to this file (- = stdout; the table then goes to stderr)")
	fs.BoolVar(&c.restart, "restart", true, "start fresh server processes before every pair (averages out per-process bias)")
	fs.IntVar(&c.retries, "retries", 2, "re-run a pair (at most this often) when other load slowed its two rounds unevenly; the most even attempt is kept")
	fs.Float64Var(&c.maxOther, "max-interference", 0.05, "difference in interference (share of the server core) between the two rounds of a pair that counts as disturbed")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp dir (Caddyfiles, server logs, database)")
	flag.Parse()
	if c.headerSet != "browser" && c.headerSet != "minimal" {
		return nil, fmt.Errorf("-headers %q: want browser or minimal", c.headerSet)
	}
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	if c.binary == "" {
		return nil, errors.New("-binary is required")
	}
	if c.conns < 1 || c.rounds < 1 || c.duration <= 0 || c.warmup < 0 {
		return nil, errors.New("-conns, -rounds and -duration must be positive")
	}
	switch c.auth {
	case "cookie", "bearer", "none":
	default:
		return nil, fmt.Errorf("-auth must be cookie, bearer or none, not %q", c.auth)
	}
	if !c.variantB {
		c.auth = "none"
	}
	if c.target == 0 {
		c.target = 0.95
		if c.auth == "bearer" {
			c.target = 0.90
		}
	}
	var err error
	if c.caddyfileA, err = templateArg(c.caddyfileA); err != nil {
		return nil, err
	}
	if c.caddyfileB, err = templateArg(c.caddyfileB); err != nil {
		return nil, err
	}
	if c.binary, err = filepath.Abs(c.binary); err != nil {
		return nil, err
	}
	if _, err := os.Stat(c.binary); err != nil {
		return nil, fmt.Errorf("-binary: %w", err)
	}
	return c, nil
}

// variant is one server under test.
type variant struct {
	label     string // "A" or "B"
	desc      string
	gatehouse bool
	addr      string
	config    string
	proc      *process
	headers   []string
}

// execution is one load run, kept for the upstream cross-check.
type execution struct {
	key      string
	v        *variant
	res      loadResult
	roundIdx int // index into rounds, -1 for warm-ups and probes
}

func run() int {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		flag.Usage()
		return 2
	}
	logw := os.Stdout
	if cfg.jsonOut == "-" {
		logw = os.Stderr
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

	pin, pinMsg := newPinner(cfg.pin, cfg.serverCPU, cfg.clientCPU)
	if pin.enabled && os.Getenv(envPinned) == "" {
		err := pin.reexecPinned(cfg.clientCPU) // returns only on failure
		logf("WARNING: could not re-execute pinned to CPU %d (%v); load generator unpinned", cfg.clientCPU, err)
	}
	logf("proxybench: %s", pinMsg)
	cfg.pinned = pin.enabled
	logf("proxybench: load generator pid %d on CPUs %s, GOMAXPROCS=%d", os.Getpid(), allowedCPUs(os.Getpid()), runtime.GOMAXPROCS(0))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		logf("proxybench: %v", err)
		return 1
	}
	if cfg.keep {
		logf("proxybench: temp dir %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	up, err := startUpstream(pin, cfg.clientCPU, cfg.bodySize, cfg.expectHeader)
	if err != nil {
		logf("proxybench: %v", err)
		return 1
	}
	defer up.shutdown()
	logf("proxybench: upstream %s pid %d on CPUs %s", up.addr, up.pid(), allowedCPUs(up.pid()))

	a := &variant{label: "A", desc: "caddy reverse_proxy"}
	b := &variant{label: "B", desc: "gatehouse + reverse_proxy", gatehouse: true}
	if !cfg.variantB {
		b.desc, b.gatehouse = "caddy reverse_proxy (second process)", false
	}
	password := cfg.password
	if password == "" {
		password = randomPassword()
	}
	for _, v := range []*variant{a, b} {
		port, err := freePort()
		if err != nil {
			logf("proxybench: %v", err)
			return 1
		}
		v.addr = fmt.Sprintf("127.0.0.1:%d", port)
		v.config = filepath.Join(dir, "Caddyfile."+v.label)
		data := tmplData{
			Binary: cfg.binary, Dir: dir, Config: v.config, Addr: v.addr, Port: port,
			Upstream: up.addr, DB: filepath.Join(dir, "gh.db"), Tenant: cfg.tenant, Email: cfg.email,
		}
		text := cfg.caddyfileA
		if v.gatehouse {
			text = cfg.caddyfileB
		}
		cf, err := render("Caddyfile "+v.label, text, data)
		if err == nil {
			err = os.WriteFile(v.config, []byte(cf), 0o644)
		}
		if err != nil {
			logf("proxybench: %v", err)
			return 1
		}
		if v.gatehouse {
			if err := prepareGatehouse(ctx, cfg, data, dir, password); err != nil {
				logf("proxybench: preparing B: %v", err)
				return 1
			}
		}
	}
	startBoth := func(verbose bool) error {
		for _, v := range []*variant{a, b} {
			if v.proc != nil {
				v.proc.stop(5 * time.Second)
			}
			p, err := startServer(ctx, pin, cfg.serverCPU, "server-"+v.label, cfg.binary, v.config, v.addr, dir, cfg.serverProcs, cfg.startupTimeout)
			if err != nil {
				return err
			}
			v.proc = p
			if verbose {
				logf("proxybench: %s (%s) %s pid %d on CPUs %s", v.label, v.desc, v.addr, p.pid(), allowedCPUs(p.pid()))
			}
		}
		return nil
	}
	defer func() {
		for _, v := range []*variant{a, b} {
			if v.proc != nil {
				v.proc.stop(5 * time.Second)
			}
		}
	}()
	if err := startBoth(true); err != nil {
		logf("proxybench: %v", err)
		return 1
	}

	// Credentials, obtained once from B and sent identically to both variants
	// so that the request bytes differ only in the Host port.
	var authHeaders []string
	if b.gatehouse && cfg.auth != "none" {
		base := "http://" + b.addr
		cookies, err := login(base, cfg.email, password)
		if err != nil {
			logf("proxybench: %v\n--- server-B log (last lines) ---\n%s", err, b.proc.logTail(20))
			return 1
		}
		names := make([]string, 0, len(cookies))
		found := false
		for _, c := range cookies {
			names = append(names, c.Name)
			found = found || c.Name == cfg.cookieName
		}
		if !found {
			logf("proxybench: WARNING: sign-in set cookies %v, none named %q; sending all of them", names, cfg.cookieName)
		}
		switch cfg.auth {
		case "cookie":
			authHeaders = []string{cookieHeader(cookies)}
		case "bearer":
			tok, err := fetchBearer(base, cookies)
			if err != nil {
				logf("proxybench: %v", err)
				return 1
			}
			authHeaders = []string{"Authorization: Bearer " + tok}
		}
		logf("proxybench: signed in as %s (cookies %v, auth mode %s)", cfg.email, names, cfg.auth)
	}
	if cfg.headerSet == "browser" {
		authHeaders = append(browserHeaders[:len(browserHeaders):len(browserHeaders)], authHeaders...)
	}
	a.headers, b.headers = authHeaders, authHeaders

	var execs []execution
	var rounds []roundResult
	var problems, warnings []string
	serverBusyWarned, clientBusyWarned := false, false

	for _, v := range []*variant{a, b} {
		if err := probe(v, "probe-"+v.label); err != nil {
			logf("proxybench: probe of %s failed: %v\n--- server-%s log (last lines) ---\n%s", v.label, err, v.label, v.proc.logTail(20))
			return 1
		}
		execs = append(execs, execution{key: "probe-" + v.label, v: v, res: loadResult{OK: 1}, roundIdx: -1})
	}
	if cfg.prewarm > 0 {
		for _, v := range []*variant{a, b} {
			key := "pre-" + v.label
			res, _, err := runRound(ctx, cfg, v, up, key, 0, cfg.prewarm)
			if err != nil {
				logf("proxybench: warm-up of %s: %v", v.label, err)
				return 1
			}
			execs = append(execs, execution{key: key, v: v, res: res, roundIdx: -1})
		}
	}

	for pair := 1; pair <= cfg.rounds; pair++ {
		order := []*variant{a, b}
		if pair%2 == 0 {
			order = []*variant{b, a}
		}
		// Two identical server processes differ by a few per cent (memory
		// layout and the like); fresh processes per pair average that out.
		// Sessions live in the store, so the cookie stays valid.
		if cfg.restart && pair > 1 {
			if err := startBoth(false); err != nil {
				logf("proxybench: restarting servers before pair %d: %v", pair, err)
				return 1
			}
		}
		// Other load that hits both rounds of a pair alike cancels out in the
		// ratio; load that hits one round more than the other does not. Such
		// pairs are run again (-retries) and the most even attempt is kept.
		var best []roundResult
		bestFirst, bestImb := 0, math.Inf(1)
		for attempt := 0; attempt <= cfg.retries; attempt++ {
			var pairRounds []roundResult
			first := len(execs)
			for pos, v := range order {
				key := fmt.Sprintf("%s%02d", v.label, pair)
				if attempt > 0 {
					key += fmt.Sprintf("r%d", attempt)
				}
				res, rr, err := runRound(ctx, cfg, v, up, key, cfg.warmup, cfg.duration)
				if err != nil {
					logf("proxybench: pair %d %s: %v", pair, v.label, err)
					return 1
				}
				rr.Pair, rr.Variant, rr.Position, rr.Attempt = pair, v.label, pos+1, attempt
				pairRounds = append(pairRounds, rr)
				execs = append(execs, execution{key: key, v: v, res: res, roundIdx: -1}) // every execution is cross-checked
				logf("pair %d %s: %8.0f req/s  server %5.1f us/req, core %3.0f%% ours %2.0f%% other  client core %3.0f%% ours %2.0f%% other  errors %d",
					pair, v.label, rr.ReqPerSec, rr.ServerCPUUsPerReq, 100*rr.ServerCPUUtil, 100*rr.ServerCoreOther,
					100*rr.ClientCPUUtil, 100*rr.ClientCoreOther, rr.Errors)
				for _, s := range res.Samples {
					logf("    error sample: %s", s)
				}
				if idle := 1 - rr.ServerCPUUtil - rr.ServerCoreOther; cfg.pinned && idle > 0.15 && !serverBusyWarned {
					serverBusyWarned = true
					logf("proxybench: WARNING: server core %.0f%% idle: the load generator side is the bottleneck, or the server blocks", 100*idle)
				}
				if cfg.pinned && rr.ClientCPUUtil > 0.9 && !clientBusyWarned {
					clientBusyWarned = true
					logf("proxybench: WARNING: client core %.0f%% busy: results may be client-bound", 100*rr.ClientCPUUtil)
				}
			}
			imb := pairImbalance(pairRounds[0], pairRounds[1])
			if imb < bestImb {
				best, bestFirst, bestImb = pairRounds, first, imb
			}
			if !cfg.pinned || imb <= cfg.maxOther {
				break
			}
			if attempt < cfg.retries {
				logf("proxybench: pair %d unevenly disturbed (other load differed by %.0f%% of a core); running it again", pair, 100*imb)
			}
		}
		if cfg.pinned && bestImb > cfg.maxOther {
			best[0].Disturbed, best[1].Disturbed = true, true
			warnings = append(warnings, fmt.Sprintf("pair %d kept although unevenly disturbed (other load differed by %.0f%% of a core)", pair, 100*bestImb))
		}
		for i, rr := range best {
			rounds = append(rounds, rr)
			execs[bestFirst+i].roundIdx = len(rounds) - 1
		}
	}
	if cfg.pinned {
		var other []float64
		for _, rr := range rounds {
			other = append(other, rr.ServerCoreOther)
		}
		if m := median(other); m > cfg.maxOther {
			warnings = append(warnings, fmt.Sprintf("other processes took a median %.0f%% of the server core: absolute req/s are understated, paired ratios stay comparable", 100*m))
		}
	}

	// Cross-check every execution against the upstream's counts.
	stats, err := up.stats()
	if err != nil {
		logf("proxybench: %v", err)
		return 1
	}
	var totalOK, totalErr int64
	failed := false
	for _, e := range execs {
		s := stats[e.key]
		totalOK += e.res.OK
		totalErr += e.res.Errors
		if e.roundIdx >= 0 {
			rounds[e.roundIdx].Upstream = s.N
		}
		if s.N < e.res.OK || s.N > e.res.OK+e.res.Errors {
			problems = append(problems, fmt.Sprintf("%s: upstream saw %d requests but the load generator got %d × 200 (+%d errors)", e.key, s.N, e.res.OK, e.res.Errors))
			failed = true
		}
		if e.v.gatehouse && cfg.expectHeader != "" && s.Header != s.N {
			problems = append(problems, fmt.Sprintf("%s: %d of %d upstream requests lacked %s", e.key, s.N-s.Header, s.N, cfg.expectHeader))
			failed = true
		}
		if e.res.Errors > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d errors %v %v", e.key, e.res.Errors, e.res.Statuses, e.res.Samples))
		}
	}
	errRate := 0.0
	if totalOK+totalErr > 0 {
		errRate = float64(totalErr) / float64(totalOK+totalErr)
	}
	if errRate > cfg.maxErrorRate {
		problems = append(problems, fmt.Sprintf("error rate %.4f%% above -max-error-rate %.4f%%", 100*errRate, 100*cfg.maxErrorRate))
		failed = true
	}

	rep := &report{
		Binary: cfg.binary, VariantA: a.desc, VariantB: b.desc, AVsA: !cfg.variantB, Auth: cfg.auth,
		Conns: cfg.conns, DurationSec: cfg.duration.Seconds(), WarmupSec: cfg.warmup.Seconds(),
		Pinned: pin.enabled, Rounds: rounds, Summary: summarize(rounds),
		Target: cfg.target, ErrorRate: errRate, Problems: problems, Warnings: warnings,
	}
	rep.MeetsTarget = rep.Summary.MedianRatio >= cfg.target
	printTable(logw, rep)
	if cfg.jsonOut != "" {
		if err := writeJSON(cfg.jsonOut, rep); err != nil {
			logf("proxybench: %v", err)
			return 1
		}
	}
	switch {
	case failed:
		return 1
	case cfg.minRatio > 0 && rep.Summary.MedianRatio < cfg.minRatio:
		logf("proxybench: median ratio %.3f below -min-ratio %.3f", rep.Summary.MedianRatio, cfg.minRatio)
		return 3
	}
	return 0
}

// pairImbalance is how unevenly other work (other processes, interrupts)
// slowed the two rounds of a pair, as a share of the server core. Other load
// on the server core counts fully; other load on the client core only as far
// as the server core sat idle (otherwise the client kept up regardless). An
// idle server core without other load is not interference (the server may
// block), so it is not counted.
func pairImbalance(x, y roundResult) float64 {
	return math.Abs(interference(x) - interference(y))
}

func interference(r roundResult) float64 {
	idle := max(0, 1-r.ServerCPUUtil-r.ServerCoreOther)
	return r.ServerCoreOther + min(r.ClientCoreOther, idle)
}

// runRound runs one load round against v and samples CPU over its window.
func runRound(ctx context.Context, cfg *config, v *variant, up *upstream, key string, warmup, dur time.Duration) (loadResult, roundResult, error) {
	self := os.Getpid()
	var t0, t1 time.Time
	var srv0, srv1, cl0, cl1 time.Duration
	var core0, core1 [2]int64 // busy ticks of the server and client core
	clientCPU := func() time.Duration {
		x, _ := procCPU(self)
		y, _ := procCPU(up.pid())
		return x + y
	}
	cores := func() (c [2]int64) {
		c[0], _ = coreTicks(cfg.serverCPU)
		c[1], _ = coreTicks(cfg.clientCPU)
		return c
	}
	spec := loadSpec{
		addr: v.addr, path: "/r/" + key, headers: v.headers, conns: cfg.conns,
		warmup: warmup, duration: dur, timeout: cfg.timeout,
		onWindowStart: func() {
			t0 = time.Now()
			srv0, _ = procCPU(v.proc.pid())
			cl0 = clientCPU()
			core0 = cores()
		},
		onWindowEnd: func() {
			t1 = time.Now()
			srv1, _ = procCPU(v.proc.pid())
			cl1 = clientCPU()
			core1 = cores()
		},
	}
	res, err := runLoad(ctx, spec)
	if err != nil {
		return res, roundResult{}, err
	}
	if v.proc.exited() {
		return res, roundResult{}, fmt.Errorf("server %s exited: %v\n%s", v.label, v.proc.waitErr, v.proc.logTail(20))
	}
	rr := roundResult{Key: key, Measured: res.Measured, OK: res.OK, Errors: res.Errors}
	rr.ReqPerSec = float64(res.Measured) / dur.Seconds()
	if w := t1.Sub(t0).Seconds(); w > 0 {
		rr.ServerCPUUtil = (srv1 - srv0).Seconds() / w
		rr.ClientCPUUtil = (cl1 - cl0).Seconds() / w
		if cfg.pinned {
			tick := (time.Second / 100).Seconds()
			rr.ServerCoreOther = max(0, float64(core1[0]-core0[0])*tick/w-rr.ServerCPUUtil)
			rr.ClientCoreOther = max(0, float64(core1[1]-core0[1])*tick/w-rr.ClientCPUUtil)
		}
	}
	if res.Measured > 0 {
		rr.ServerCPUUsPerReq = float64((srv1 - srv0).Nanoseconds()) / 1e3 / float64(res.Measured)
	}
	return res, rr, nil
}

// probe sends one request with v's headers and requires a 200.
func probe(v *variant, key string) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+v.addr+"/r/"+key, nil)
	if err != nil {
		return err
	}
	for _, h := range v.headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(name, strings.TrimSpace(value))
	}
	resp, err := noRedirectClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d (Location %q): %s", resp.StatusCode, resp.Header.Get("Location"), strings.TrimSpace(string(body)))
	}
	return nil
}

// prepareGatehouse runs the setup commands and creates the bench user.
func prepareGatehouse(ctx context.Context, cfg *config, data tmplData, dir, password string) error {
	env := serverEnv(dir, 0)
	for i, t := range cfg.setupCmds {
		argv, err := renderCommand(fmt.Sprintf("setup-cmd %d", i+1), t, data)
		if err != nil {
			return err
		}
		if err := runCommand(ctx, argv, "", env, dir); err != nil {
			return err
		}
	}
	if strings.TrimSpace(cfg.userCmd) == "" {
		return nil
	}
	argv, err := renderCommand("user-cmd", cfg.userCmd, data)
	if err != nil {
		return err
	}
	return runCommand(ctx, argv, password+"\n", env, dir)
}

func randomPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return "Pb-" + base64.RawURLEncoding.EncodeToString(b)
}
