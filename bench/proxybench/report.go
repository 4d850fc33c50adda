package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// roundResult is one measured round of one variant.
type roundResult struct {
	Pair      int     `json:"pair"`
	Variant   string  `json:"variant"`  // "A" or "B"
	Position  int     `json:"position"` // 1 = ran first in its pair, 2 = second
	Key       string  `json:"key"`      // upstream counter key (request path /r/<key>)
	ReqPerSec float64 `json:"req_per_sec"`
	Measured  int64   `json:"measured_200"` // 200s completed inside the measurement window
	OK        int64   `json:"ok_200"`       // all 200s of the round (warm-up + window + tail)
	Errors    int64   `json:"errors"`       // non-200 responses + transport errors
	// Server process CPU during the measurement window (from /proc/PID/stat, 10 ms ticks).
	ServerCPUUsPerReq float64 `json:"server_cpu_us_per_req"`
	ServerCPUUtil     float64 `json:"server_cpu_util"` // fraction of one core
	// CPU of the load generator + upstream processes (they share the client core).
	ClientCPUUtil float64 `json:"client_cpu_util"`
	// Share of the server / client core used by anything else (other
	// processes, interrupts, steal) during the window; only when pinned.
	ServerCoreOther float64 `json:"server_core_other"`
	ClientCoreOther float64 `json:"client_core_other"`
	Attempt         int     `json:"attempt"`       // >0: pair re-run after interference
	Disturbed       bool    `json:"disturbed"`     // interference above -max-interference
	Upstream        int64   `json:"upstream_seen"` // filled in by verification
}

type pairResult struct {
	Pair  int     `json:"pair"`
	Order string  `json:"order"` // "AB" or "BA"
	A     float64 `json:"a_req_per_sec"`
	B     float64 `json:"b_req_per_sec"`
	Ratio float64 `json:"ratio_b_over_a"`
	// CPURatio: A's server CPU per request / B's — the throughput ratio the
	// pair would show on a quiet core; insensitive to other load.
	CPURatio float64 `json:"cpu_ratio"`
	// Disturbed: other load hit the two rounds unevenly (see pairImbalance).
	Disturbed bool `json:"disturbed"`
}

type summary struct {
	Pairs       []pairResult `json:"pairs"`
	MedianA     float64      `json:"median_a_req_per_sec"`
	MedianB     float64      `json:"median_b_req_per_sec"`
	MedianRatio float64      `json:"median_ratio"`
	MinRatio    float64      `json:"min_ratio"`
	MaxRatio    float64      `json:"max_ratio"`
	MedianACPU  float64      `json:"median_a_server_cpu_us_per_req"`
	MedianBCPU  float64      `json:"median_b_server_cpu_us_per_req"`
	MedianCPU   float64      `json:"median_cpu_ratio"` // median of the pairs' CPURatio
}

// median returns the median of xs (mean of the two middle values for an even
// count) and 0 for an empty slice. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize pairs up the A and B rounds of each pair and computes the paired
// ratios B/A and the medians. Pairs missing either side are skipped.
func summarize(rounds []roundResult) summary {
	type ab struct {
		a, b       *roundResult
		firstIsA   bool
		firstFound bool
	}
	byPair := map[int]*ab{}
	var order []int
	for i := range rounds {
		r := &rounds[i]
		p := byPair[r.Pair]
		if p == nil {
			p = &ab{}
			byPair[r.Pair] = p
			order = append(order, r.Pair)
		}
		switch r.Variant {
		case "A":
			p.a = r
		case "B":
			p.b = r
		}
		if r.Position == 1 {
			p.firstIsA, p.firstFound = r.Variant == "A", true
		}
	}
	sort.Ints(order)
	var s summary
	var as, bs, ratios, acpu, bcpu, cpuRatios []float64
	for _, n := range order {
		p := byPair[n]
		if p.a == nil || p.b == nil {
			continue
		}
		o := "BA"
		if p.firstIsA || !p.firstFound {
			o = "AB"
		}
		ratio := 0.0
		if p.a.ReqPerSec > 0 {
			ratio = p.b.ReqPerSec / p.a.ReqPerSec
		}
		cpuRatio := 0.0
		if p.b.ServerCPUUsPerReq > 0 {
			cpuRatio = p.a.ServerCPUUsPerReq / p.b.ServerCPUUsPerReq
		}
		s.Pairs = append(s.Pairs, pairResult{Pair: n, Order: o, A: p.a.ReqPerSec, B: p.b.ReqPerSec, Ratio: ratio,
			CPURatio: cpuRatio, Disturbed: p.a.Disturbed || p.b.Disturbed})
		cpuRatios = append(cpuRatios, cpuRatio)
		as = append(as, p.a.ReqPerSec)
		bs = append(bs, p.b.ReqPerSec)
		ratios = append(ratios, ratio)
		acpu = append(acpu, p.a.ServerCPUUsPerReq)
		bcpu = append(bcpu, p.b.ServerCPUUsPerReq)
	}
	s.MedianA, s.MedianB, s.MedianRatio = median(as), median(bs), median(ratios)
	s.MedianACPU, s.MedianBCPU, s.MedianCPU = median(acpu), median(bcpu), median(cpuRatios)
	if len(ratios) > 0 {
		s.MinRatio, s.MaxRatio = ratios[0], ratios[0]
		for _, r := range ratios {
			s.MinRatio = min(s.MinRatio, r)
			s.MaxRatio = max(s.MaxRatio, r)
		}
	}
	return s
}

// report is the complete result, also the -json document.
type report struct {
	Binary      string        `json:"binary"`
	VariantA    string        `json:"variant_a"`
	VariantB    string        `json:"variant_b"`
	AVsA        bool          `json:"a_vs_a"` // B is a second plain server (harness check)
	Auth        string        `json:"auth"`
	Conns       int           `json:"conns"`
	DurationSec float64       `json:"duration_sec"`
	WarmupSec   float64       `json:"warmup_sec"`
	Pinned      bool          `json:"pinned"`
	Rounds      []roundResult `json:"rounds"`
	Summary     summary       `json:"summary"`
	Target      float64       `json:"target"`
	MeetsTarget bool          `json:"meets_target"`
	ErrorRate   float64       `json:"error_rate"`
	Problems    []string      `json:"problems"` // errors: the run fails
	Warnings    []string      `json:"warnings"` // measurement caveats
}

func printTable(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nA = %s, B = %s (auth: %s), %d conns, %.1fs rounds after %.1fs warm-up\n",
		r.VariantA, r.VariantB, r.Auth, r.Conns, r.DurationSec, r.WarmupSec)
	fmt.Fprintf(w, "%-5s %-5s %10s %10s %7s %10s %10s %7s\n",
		"pair", "order", "A req/s", "B req/s", "B/A", "A us/req", "B us/req", "errors")
	errs := map[int]int64{}
	for _, rr := range r.Rounds {
		errs[rr.Pair] += rr.Errors
	}
	type pv struct {
		pair    int
		variant string
	}
	cpu := map[pv]float64{}
	for _, rr := range r.Rounds {
		cpu[pv{rr.Pair, rr.Variant}] = rr.ServerCPUUsPerReq
	}
	disturbed := 0
	for _, p := range r.Summary.Pairs {
		mark := ""
		if p.Disturbed {
			mark = " *"
			disturbed++
		}
		fmt.Fprintf(w, "%-5d %-5s %10.0f %10.0f %7.3f %10.1f %10.1f %7d%s\n",
			p.Pair, p.Order, p.A, p.B, p.Ratio, cpu[pv{p.Pair, "A"}], cpu[pv{p.Pair, "B"}], errs[p.Pair], mark)
	}
	s := r.Summary
	fmt.Fprintf(w, "%-11s %10.0f %10.0f %7.3f %10.1f %10.1f\n", "median", s.MedianA, s.MedianB, s.MedianRatio, s.MedianACPU, s.MedianBCPU)
	fmt.Fprintf(w, "(us/req = server process CPU per request in the window; paired ratios range %.3f..%.3f)\n", s.MinRatio, s.MaxRatio)
	if disturbed > 0 {
		fmt.Fprintf(w, "* = %d of %d pairs unevenly disturbed by other load even after retries; treat the result with care\n",
			disturbed, len(r.Summary.Pairs))
	}
	verdict := "MEETS"
	if !r.MeetsTarget {
		verdict = "UNDER"
	}
	fmt.Fprintf(w, "\nmedian paired ratio B/A = %.3f   target >= %.2f (%s): %s\n", s.MedianRatio, r.Target, targetLabel(r), verdict)
	fmt.Fprintf(w, "server CPU per request: B-A = %+.1f us (medians), CPU-normalised ratio A/B = %.3f (median of pairs; robust to other load)\n",
		s.MedianBCPU-s.MedianACPU, s.MedianCPU)
	fmt.Fprintf(w, "error rate %.4f%%\n", 100*r.ErrorRate)
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nWARNINGS (%d):\n  %s\n", len(r.Warnings), strings.Join(r.Warnings, "\n  "))
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\nPROBLEMS (%d):\n  %s\n", len(r.Problems), strings.Join(r.Problems, "\n  "))
	}
}

func targetLabel(r *report) string {
	switch {
	case r.AVsA:
		return "A vs A, expect ~1.0"
	case r.Auth == "bearer":
		return "bearer JWT"
	default:
		return "session cookie"
	}
}

func writeJSON(path string, r *report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
