package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// round is one measured round of one variant.
type round struct {
	Group      int
	Variant    string
	Key        string // upstream counter key (request path /r/KEY)
	ReqPerSec  float64
	CPUus      float64       // server CPU per measured request, µs
	Core       float64       // server CPU in the window, share of one core
	OK, Errors int64         // all 200s of the round, warm-up included; all other outcomes
	Sample     string        // the first error
	FloodTime  time.Duration // how long the flood ran, drain included (F only)
	Dry        bool          // M's tokens ran out before the round's end
}

// ratio is one paired comparison Num/Den over the groups.
type ratio struct {
	Num, Den string
	Note     string    // what it shows
	Target   float64   // 0: for information
	Each     []float64 // per group, in order
	Median   float64
	CPU      float64 // median of Den's CPU per request / Num's
}

// median returns the median of xs (mean of the middle two for an even
// count), 0 for none; xs is not modified.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	switch n := len(s); {
	case n == 0:
		return 0
	case n%2 == 0:
		return (s[n/2-1] + s[n/2]) / 2
	default:
		return s[n/2]
	}
}

// summarize computes each ratio per group, skipping groups that lack either
// side, and the median over the groups: the median of paired ratios, not the
// ratio of medians.
func summarize(rounds []round, ratios []ratio) []ratio {
	var groups []map[string]round
	for i, r := range rounds {
		if i == 0 || r.Group != rounds[i-1].Group {
			groups = append(groups, map[string]round{})
		}
		groups[len(groups)-1][r.Variant] = r
	}
	out := slices.Clone(ratios)
	for i := range out {
		var cpu []float64
		for _, g := range groups {
			num, ok1 := g[out[i].Num]
			den, ok2 := g[out[i].Den]
			if ok1 && ok2 && den.ReqPerSec > 0 {
				out[i].Each = append(out[i].Each, num.ReqPerSec/den.ReqPerSec)
				if num.CPUus > 0 {
					cpu = append(cpu, den.CPUus/num.CPUus)
				}
			}
		}
		out[i].Median, out[i].CPU = median(out[i].Each), median(cpu)
	}
	return out
}

func printReport(w io.Writer, c *config, vs []*variant, rounds []round, ratios []ratio) {
	fmt.Fprintf(w, "\n%d groups, %d connections, %v windows after %v warm-up; medians:\n", c.rounds, c.conns, c.duration, c.warmup)
	for _, v := range vs {
		var rps, cpu []float64
		for _, r := range rounds {
			if r.Variant == v.label {
				rps, cpu = append(rps, r.ReqPerSec), append(cpu, r.CPUus)
			}
		}
		fmt.Fprintf(w, "  %s %7.0f req/s  %6.1f us/req server CPU   %s\n", v.label, median(rps), median(cpu), v.desc)
	}
	for _, r := range ratios {
		each := make([]string, len(r.Each))
		for i, x := range r.Each {
			each[i] = fmt.Sprintf("%.3f", x)
		}
		fmt.Fprintf(w, "%s/%s = %.3f median of paired ratios [%s]", r.Num, r.Den, r.Median, strings.Join(each, " "))
		if !c.flood {
			fmt.Fprintf(w, ", by CPU per request %.3f", r.CPU)
		}
		if r.Target > 0 {
			verdict := map[bool]string{true: "MEETS", false: "UNDER"}[r.Median >= r.Target]
			fmt.Fprintf(w, "; target >= %.2f: %s", r.Target, verdict)
		}
		fmt.Fprintf(w, "  (%s)\n", r.Note)
	}
}

// checkFlood requires that the flood reached the password check (some 401s)
// and got nothing but 401, 429 and 503.
func checkFlood(fl *counts) []string {
	var problems []string
	if fl.status[401] == 0 {
		problems = append(problems, "the flood got no 401: its sign-ins never reached the password check")
	}
	for s, n := range fl.status {
		if s != 401 && s != 429 && s != 503 {
			problems = append(problems, fmt.Sprintf("the flood got %d answers with status %d (0: transport error)", n, s))
		}
	}
	return problems
}
