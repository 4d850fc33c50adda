package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var periodTests = []test{
	{"MarkAndCheck", testPeriods},
	{"MarkConcurrent", testPeriodsConcurrent},
}

// markPeriod calls MarkPeriodDone and checks its answer.
func markPeriod(t *testing.T, h store.TenantHandle, what, job, period string, at time.Time, want bool) {
	t.Helper()
	got, err := h.Periods().MarkPeriodDone(ctx(t), job, period, at)
	noErr(t, what, err)
	if got != want {
		t.Fatalf("%s: MarkPeriodDone = %v, want %v", what, got, want)
	}
}

// wantPeriodDone checks PeriodDone.
func wantPeriodDone(t *testing.T, h store.TenantHandle, what, job, period string, want bool) {
	t.Helper()
	got, err := h.Periods().PeriodDone(ctx(t), job, period)
	noErr(t, what, err)
	if got != want {
		t.Errorf("%s: PeriodDone = %v, want %v", what, got, want)
	}
}

// testPeriods: a period is done once marked, the first mark is the only one that
// counts, and jobs and periods are independent of each other.
func testPeriods(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	wantPeriodDone(t, h, "before any mark", "review", "2026-Q1", false)
	markPeriod(t, h, "first mark", "review", "2026-Q1", base, true)
	wantPeriodDone(t, h, "after the mark", "review", "2026-Q1", true)
	markPeriod(t, h, "second mark", "review", "2026-Q1", base.Add(time.Hour), false)
	markPeriod(t, h, "second mark, same time", "review", "2026-Q1", base, false)
	wantPeriodDone(t, h, "after the second mark", "review", "2026-Q1", true)

	wantPeriodDone(t, h, "another period", "review", "2026-Q2", false)
	wantPeriodDone(t, h, "another job", "export", "2026-Q1", false)
	markPeriod(t, h, "another period", "review", "2026-Q2", base, true)
	markPeriod(t, h, "another job", "export", "2026-Q1", base, true)
	wantPeriodDone(t, h, "another period after its mark", "review", "2026-Q2", true)
	wantPeriodDone(t, h, "another job after its mark", "export", "2026-Q1", true)
	wantPeriodDone(t, h, "a third period", "review", "2026-Q3", false)

	ghost := st.Tenant("tn-ghost-" + randHex(8))
	_, err := ghost.Periods().MarkPeriodDone(ctx(t), "review", "2026-Q1", base)
	wantErr(t, "MarkPeriodDone for an unknown tenant", err, store.ErrNotFound)
}

// testPeriodsConcurrent: of 10 instances marking one period at once, exactly one gets
// true, and none gets an error.
func testPeriodsConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	for round := range raceRounds {
		period := "2026-Q" + randHex(4)
		wantPeriodDone(t, h, "before the race", "review", period, false)
		var wins atomic.Int64
		errs := race(10, func() error {
			ok, err := h.Periods().MarkPeriodDone(t.Context(), "review", period, base.Add(time.Duration(round)*time.Hour))
			if ok {
				wins.Add(1)
			}
			return err
		})
		for _, err := range errs {
			noErr(t, "concurrent MarkPeriodDone", err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d of %d concurrent MarkPeriodDone calls got true, want exactly 1", n, len(errs))
		}
		wantPeriodDone(t, h, "after the race", "review", period, true)
	}
}
