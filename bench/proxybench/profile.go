package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// profile saves the server's CPU profile of the window from from as
// proxybench-KEY.pprof in the working directory.
func profile(s *server, key string, from time.Time, window time.Duration) {
	time.Sleep(time.Until(from))
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.admin, max(1, int(window/time.Second))))
	if err != nil {
		logf("profile of %s: %v", key, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	name := "proxybench-" + key + ".pprof"
	if err == nil && resp.StatusCode == http.StatusOK {
		err = os.WriteFile(name, b, 0o644)
	} else if err == nil {
		err = fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	if err != nil {
		logf("profile of %s: %v", key, err)
		return
	}
	logf("profile of %s: %s", key, name)
}

// The handler's own work in a profile: stacks through Gatehouse's ServeHTTP,
// without the reverse_proxy it calls.
const (
	ownFocus  = `caddymodule\.\(\*Handler\)\.ServeHTTP`
	ownIgnore = `reverseproxy\.`
)

var showingRE = regexp.MustCompile(`Showing nodes accounting for [^,]+, ([0-9.]+)% of`)

// ownShare is the share of a CPU profile's samples in Gatehouse's handler apart
// from reverse_proxy, read with go tool pprof.
func ownShare(file string) (float64, error) {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=1",
		"-focus="+ownFocus, "-ignore="+ownIgnore, file).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("go tool pprof %s: %v\n%s", file, err, out)
	}
	return parseShare(out)
}

func parseShare(out []byte) (float64, error) {
	m := showingRE.FindSubmatch(out)
	if m == nil {
		if bytes.Contains(out, []byte("No samples were found")) || bytes.Contains(out, []byte("no samples")) {
			return 0, nil
		}
		return 0, fmt.Errorf("no share in go tool pprof's output:\n%s", out)
	}
	pct, err := strconv.ParseFloat(string(m[1]), 64)
	return pct / 100, err
}

// reportOwnCPU prints, for every profiled variant, the median share of its
// server's CPU spent in Gatehouse's own handler and that share of its median
// CPU per request: Gatehouse's own CPU per request (SPEC §13: ≤ 5 µs).
func reportOwnCPU(w io.Writer, c *config, rounds []round) {
	for _, l := range c.profile {
		var shares, cpu []float64
		for _, r := range rounds {
			if r.Variant != string(l) {
				continue
			}
			s, err := ownShare("proxybench-" + r.Key + ".pprof")
			if err != nil {
				logf("%v", err)
				continue
			}
			shares, cpu = append(shares, s), append(cpu, r.CPUus)
		}
		if len(shares) == 0 {
			continue
		}
		share := median(shares)
		fmt.Fprintf(w, "%s: Gatehouse's own handler (without reverse_proxy) %.2f %% of the server's CPU = %.2f us per request (target <= 5 us) over %d profiled windows\n",
			string(l), 100*share, share*median(cpu), len(shares))
	}
}
