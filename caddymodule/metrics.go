package caddymodule

import (
	"context"
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// metrics are Gatehouse's Prometheus series, registered in Caddy's registry. Counters
// per label are resolved once so the request path only does an atomic add.
type metrics struct {
	signIns     *prometheus.CounterVec
	decisions   [gateway.NumOutcomes]prometheus.Counter
	lockouts    prometheus.Counter
	rateLimited *prometheus.CounterVec
	degraded    prometheus.Gauge
	anomalies   *prometheus.CounterVec
	reg         prometheus.Registerer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		signIns: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "signins_total",
			Help: "Sign-in attempts by outcome (success, failure, error).",
		}, []string{"outcome"})),
	}
	dec := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "policy_decisions_total",
		Help: "Decisions on proxied requests by outcome.",
	}, []string{"outcome"}))
	m.lockouts = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "lockouts_total",
		Help: "Accounts locked after repeated sign-in failures.",
	}))
	m.rateLimited = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "rate_limited_total",
		Help: "Requests refused by rate limits, by endpoint class.",
	}, []string{"class"}))
	m.degraded = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "redis_degraded",
		Help: "1 while Redis is unreachable and rate limits run on per-instance memory.",
	}))
	m.anomalies = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "signin_anomalies_total",
		Help: "Unusual sign-ins by kind (new_device, new_country, impossible_travel).",
	}, []string{"kind"}))
	for o := range m.decisions {
		m.decisions[o] = dec.WithLabelValues(gateway.Outcome(o).String())
	}
	return m
}

// register adds c to reg, reusing an identical collector registered before (config
// reloads provision again against the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *metrics) SignIn(outcome string) { m.signIns.WithLabelValues(outcome).Inc() }

func (m *metrics) Lockout() { m.lockouts.Inc() }

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

// outboxDepth exports the number of mails waiting in the outbox, read at scrape time.
func (m *metrics) outboxDepth(w *notify.Worker) {
	if w == nil || m.reg == nil {
		return
	}
	register(m.reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "mail_outbox_depth",
		Help: "Mails waiting in the durable outbox (unsent, including those being retried).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := w.Depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}
