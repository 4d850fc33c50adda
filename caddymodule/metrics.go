package caddymodule

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// metrics are Gatehouse's Prometheus series, registered in Caddy's registry. Counters
// per label are resolved once so the request path only does an atomic add.
type metrics struct {
	signIns   *prometheus.CounterVec
	decisions [gateway.NumOutcomes]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		signIns: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Name: "signins_total",
			Help: "Sign-in attempts by outcome (success, failure, error).",
		}, []string{"outcome"})),
	}
	dec := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "policy_decisions_total",
		Help: "Decisions on proxied requests by outcome.",
	}, []string{"outcome"}))
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
