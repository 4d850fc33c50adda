package caddymodule

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeSessionCounter struct {
	n     int64
	err   error
	calls int
	asked time.Time
}

func (f *fakeSessionCounter) ActiveSessions(_ context.Context, now time.Time) (int64, error) {
	f.calls++
	f.asked = now
	return f.n, f.err
}

// TestActiveSessionsGauge: gatehouse_active_sessions reports the store's count at
// the scrape's time, asks the store at most once per 15 s however often it is
// scraped, reports -1 (not a stale figure) when the store fails, and follows the
// config that started last.
func TestActiveSessionsGauge(t *testing.T) {
	g, col := newSessionsGauge()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	gauge := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil || len(families) != 1 || families[0].GetName() != "gatehouse_active_sessions" ||
			!strings.Contains(families[0].GetHelp(), "sessions") {
			t.Fatalf("gathered %v, %v; want the one gauge gatehouse_active_sessions", families, err)
		}
		return families[0].GetMetric()[0].GetGauge().GetValue()
	}
	if v := gauge(); v != 0 {
		t.Fatalf("before any store: %v, want 0", v)
	}
	f := &fakeSessionCounter{n: 42}
	g.watch(f)
	if v := gauge(); v != 42 || !f.asked.Equal(now) {
		t.Fatalf("gauge = %v (asked at %v), want 42 at %v", v, f.asked, now)
	}
	f.n = 43
	now = now.Add(14 * time.Second)
	if v := gauge(); v != 42 || f.calls != 1 {
		t.Fatalf("within 15 s: gauge %v after %d store calls, want the cached 42 after 1", v, f.calls)
	}
	now = now.Add(time.Second)
	if v := gauge(); v != 43 || f.calls != 2 {
		t.Fatalf("after 15 s: gauge %v after %d calls, want 43 after 2", v, f.calls)
	}
	f.err = errors.New("store down")
	now = now.Add(sessionsGaugeEvery)
	if v := gauge(); v != -1 {
		t.Fatalf("store failing: %v, want -1", v)
	}
	f.err = nil
	f.n = 7
	if v := gauge(); v != 7 {
		t.Fatalf("store back (no wait after a failure): %v, want 7", v)
	}
	other := &fakeSessionCounter{n: 3}
	g.watch(other)
	if v := gauge(); v != 3 {
		t.Fatalf("after a reload: %v, want the new store's 3", v)
	}
}

// TestMetricsLabelsStartAtZero: the sign-in outcomes, rate-limit classes, anomaly
// kinds and token events are on
// /metrics before the first event, so dashboards and alerts see 0, not "no data".
func TestMetricsLabelsStartAtZero(t *testing.T) {
	m := newMetrics()
	reg := prometheus.NewRegistry()
	m.register(reg)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				seen[f.GetName()+"/"+l.GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	for _, want := range []string{
		"gatehouse_signins_total/success", "gatehouse_signins_total/failure", "gatehouse_signins_total/locked",
		"gatehouse_signins_total/busy", "gatehouse_signins_total/overloaded", "gatehouse_signins_total/error",
		"gatehouse_rate_limited_total/login", "gatehouse_rate_limited_total/second_factor",
		"gatehouse_rate_limited_total/token", "gatehouse_rate_limited_total/api",
		"gatehouse_signin_anomalies_total/new_device", "gatehouse_signin_anomalies_total/new_country",
		"gatehouse_signin_anomalies_total/impossible_travel",
		"gatehouse_token_events_total/issued", "gatehouse_token_events_total/refreshed",
		"gatehouse_token_events_total/reuse_detected", "gatehouse_token_events_total/revoked",
	} {
		if v, ok := seen[want]; !ok || v != 0 {
			t.Errorf("%s: present %v, value %v; want present at 0", want, ok, v)
		}
	}
}
