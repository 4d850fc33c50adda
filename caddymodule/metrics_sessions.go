package caddymodule

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// activeSessionCounter counts the live sessions of every tenant (store.Maintenance).
type activeSessionCounter interface {
	ActiveSessions(ctx context.Context, now time.Time) (int64, error)
}

// sessionsGaugeEvery bounds how often a scrape runs the count: with several
// Prometheus servers or a short scrape interval the store still sees one COUNT per
// replica this often.
const sessionsGaugeEvery = 15 * time.Second

// sessionsGauge is gatehouse_active_sessions: the count across tenants, taken from
// the store (so every replica reports the same deployment-wide figure), at most once
// per sessionsGaugeEvery; -1 when the store cannot answer.
type sessionsGauge struct {
	mu      sync.Mutex
	counter activeSessionCounter
	at      time.Time // when value was taken; zero: never
	value   float64
	now     func() time.Time
}

func newSessionsGauge() (*sessionsGauge, prometheus.Collector) {
	g := &sessionsGauge{now: time.Now}
	return g, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "active_sessions",
		Help: "Signed-in sessions neither expired nor revoked, across all workspaces (counted in the store, at most every 15 s).",
	}, g.read)
}

// watch makes the gauge count with c (the config that started last).
func (g *sessionsGauge) watch(c activeSessionCounter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.counter, g.at = c, time.Time{}
}

func (g *sessionsGauge) read() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.counter == nil {
		return 0
	}
	now := g.now()
	if !g.at.IsZero() && now.Sub(g.at) < sessionsGaugeEvery && g.value >= 0 {
		return g.value
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := g.counter.ActiveSessions(ctx, now)
	if err != nil {
		g.value = -1
	} else {
		g.value = float64(n)
	}
	g.at = now
	return g.value
}
