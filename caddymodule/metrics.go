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

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
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
	for o := range m.decisions {
		m.decisions[o] = m.decisionVec.WithLabelValues(gateway.Outcome(o).String())
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{m.signIns, m.decisionVec, m.lockouts, m.rateLimited, m.degraded, m.anomalies, m.tokens, m.outbox} {
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
