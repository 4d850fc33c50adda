package caddymodule

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
)

// metrics are Gatehouse's Prometheus series. Like Caddy's own, the collectors are
// created once per process and registered in each config's registry, so the counts
// survive `caddy reload` and admin-API edits (a new registry per config would start
// them at zero). Counters per label are resolved once, so the request path only does an
// atomic add.
type metrics struct {
	signIns     *prometheus.CounterVec
	decisions   [gateway.NumOutcomes]prometheus.Counter
	decisionVec *prometheus.CounterVec
	lockouts    prometheus.Counter
	rateLimited *prometheus.CounterVec
	degraded    prometheus.Gauge
	anomalies   *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	outbox      prometheus.GaugeFunc
	audit       []prometheus.Collector
	sessions    *sessionsGauge
	sessionsCol prometheus.Collector

	committer atomic.Pointer[audit.Committer] // the current config's audit committer

	worker atomic.Pointer[notify.Worker] // the current config's outbox worker
}

var (
	metricsOnce sync.Once
	theMetrics  *metrics
)

// sharedMetrics returns the process's collectors, registered in reg.
func sharedMetrics(reg prometheus.Registerer) *metrics {
	metricsOnce.Do(func() { theMetrics = newMetrics() })
	theMetrics.register(reg)
	return theMetrics
}

func newMetrics() *metrics {
	m := &metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "signins_total",
			Help: "Sign-in attempts by outcome (success, failure, locked, busy, overloaded, error).",
		}, []string{"outcome"}),
		decisionVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "policy_decisions_total",
			Help: "Decisions on requests by outcome (portal: Gatehouse's own pages and API).",
		}, []string{"outcome"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "lockouts_total",
			Help: "Accounts locked after repeated sign-in failures.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "rate_limited_total",
			Help: "Requests refused by rate limits, by endpoint class.",
		}, []string{"class"}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gatehouse", Name: "redis_degraded",
			Help: "1 while Redis is unreachable and rate limits run on per-instance memory.",
		}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "signin_anomalies_total",
			Help: "Unusual sign-ins by kind (new_device, new_country, impossible_travel).",
		}, []string{"kind"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "token_events_total",
			Help: "Token endpoint events (issued, refreshed, reuse_detected, revoked).",
		}, []string{"event"}),
	}
	m.outbox = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "mail_outbox_depth",
		Help: "Mails waiting in the durable outbox (unsent, including those being retried).",
	}, func() float64 {
		w := m.worker.Load()
		if w == nil {
			return 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := w.Depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.audit = m.auditCollectors()
	m.sessions, m.sessionsCol = newSessionsGauge()
	// Known label values start at 0, so they are on /metrics (and rate() works) before
	// the first event.
	for _, o := range []string{"success", "failure", "locked", "busy", "overloaded", "error"} {
		m.signIns.WithLabelValues(o)
	}
	for c := range ratelimit.DefaultRules {
		m.rateLimited.WithLabelValues(string(c))
	}
	for _, k := range []string{risk.KindNewDevice, risk.KindNewCountry, risk.KindImpossibleTravel} {
		m.anomalies.WithLabelValues(k)
	}
	for _, e := range []string{"issued", "refreshed", "reuse_detected", "revoked"} {
		m.tokens.WithLabelValues(e)
	}
	for o := range m.decisions {
		m.decisions[o] = m.decisionVec.WithLabelValues(gateway.Outcome(o).String())
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) {
	for _, c := range append([]prometheus.Collector{m.signIns, m.decisionVec, m.lockouts, m.rateLimited, m.degraded, m.anomalies, m.tokens, m.outbox, m.sessionsCol}, m.audit...) {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				caddy.Log().Named("gatehouse").Error("registering metric", zap.Error(err))
			}
		}
	}
}

// watchOutbox makes the outbox gauge read w (the config that started last).
func (m *metrics) watchOutbox(w *notify.Worker) { m.worker.Store(w) }

// watchSessions makes the active-sessions gauge count in c's store (the config that
// started last).
func (m *metrics) watchSessions(c activeSessionCounter) { m.sessions.watch(c) }

// watchAudit makes the audit series read c (the config that started last).
func (m *metrics) watchAudit(c *audit.Committer) { m.committer.Store(c) }

// auditCollectors are the series of the proxied-request records: queue, spool
// (with its cap: alert when bytes approach it), and what was committed, spooled or
// lost.
func (m *metrics) auditCollectors() []prometheus.Collector {
	stat := func(f func(audit.CommitterStats) float64) func() float64 {
		return func() float64 {
			c := m.committer.Load()
			if c == nil {
				return 0
			}
			return f(c.Stats())
		}
	}
	gauge := func(name, help string, f func(audit.CommitterStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "gatehouse", Name: name, Help: help}, stat(f))
	}
	counter := func(name, help string, f func(audit.CommitterStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "gatehouse", Name: name, Help: help}, stat(f))
	}
	return []prometheus.Collector{
		gauge("audit_queue_depth", "Audit records of proxied requests waiting in memory for group commit.",
			func(s audit.CommitterStats) float64 { return float64(s.Queued) }),
		gauge("audit_spool_records", "Audit records waiting in the local spool for the store.",
			func(s audit.CommitterStats) float64 { return float64(s.SpoolRecords) }),
		gauge("audit_spool_bytes", "Size of the local audit spool.",
			func(s audit.CommitterStats) float64 { return float64(s.SpoolLen) }),
		gauge("audit_spool_max_bytes", "Cap of the local audit spool: at it, audited requests are refused (503).",
			func(s audit.CommitterStats) float64 { return float64(s.SpoolMax) }),
		gauge("audit_store_down", "1 while audit records cannot reach the store and go to the spool.",
			func(s audit.CommitterStats) float64 { return b2f(s.StoreDown) }),
		counter("audit_committed_total", "Audit records of proxied requests and denials committed to the store.",
			func(s audit.CommitterStats) float64 { return float64(s.Committed) }),
		counter("audit_spooled_total", "Audit records written to the local spool.",
			func(s audit.CommitterStats) float64 { return float64(s.Spooled) }),
		counter("audit_lost_total", "Audit records neither stored nor spooled (the spool's disk failed): alert on any.",
			func(s audit.CommitterStats) float64 { return float64(s.Lost) }),
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// watchLimiter reports the limiter falling back to memory and recovering.
func (m *metrics) watchLimiter(l *ratelimit.Limiter, logger *zap.Logger) {
	l.OnDegraded = func(degraded bool, err error) {
		m.Degraded(degraded)
		if degraded {
			logger.Warn("Redis unreachable: rate limits fall back to this instance's memory; sign-in answers 503 until it returns", zap.Error(err))
		} else {
			logger.Info("Redis reachable again: rate limits shared")
		}
	}
}

func (m *metrics) SignIn(outcome string) { m.signIns.WithLabelValues(outcome).Inc() }

func (m *metrics) Lockout() { m.lockouts.Inc() }

func (m *metrics) TokenEvent(event string) { m.tokens.WithLabelValues(event).Inc() }

func (m *metrics) Anomaly(kind string) { m.anomalies.WithLabelValues(kind).Inc() }

func (m *metrics) RateLimited(class string) { m.rateLimited.WithLabelValues(class).Inc() }

func (m *metrics) Degraded(on bool) {
	if on {
		m.degraded.Set(1)
	} else {
		m.degraded.Set(0)
	}
}

func (m *metrics) PolicyDecision(o gateway.Outcome) {
	if int(o) < len(m.decisions) {
		m.decisions[o].Inc()
	}
}

// metricsRegistry returns Caddy's registry for this config, or a private one when the
// context has none (some embedding and test contexts).
func metricsRegistry(ctx caddy.Context) prometheus.Registerer {
	if r := ctx.GetMetricsRegistry(); r != nil {
		return r
	}
	return prometheus.NewRegistry()
}
