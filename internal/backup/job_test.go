package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

type recorder struct{ outcomes []bool }

func (r *recorder) BackupDone(ok bool, _ time.Time) { r.outcomes = append(r.outcomes, ok) }

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestJobSchedule: on a real SQLite store, a daily job with 30 days' retention makes
// one backup a day whichever of two instances looks (the lease), each a store that
// opens, and keeps 30 days of them: older ones are deleted.
func TestJobSchedule(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Tenants().CreateTenant(t.Context(), store.Tenant{ID: "tn-1", Slug: "one", Name: "One"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backups")
	start := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	rec := &recorder{}
	a := &Job{Store: st, Leases: st.Maintenance(), Holder: "a", Dir: dir, Every: 24 * time.Hour, Keep: 30 * 24 * time.Hour, Metrics: rec, Clock: clk}
	b := *a
	b.Holder = "b"
	for day := range 32 {
		for _, hour := range []time.Duration{0, 2 * time.Hour, 5 * time.Hour} { // both look several times a day
			clk.Set(start.Add(time.Duration(day)*24*time.Hour + hour))
			for _, j := range []*Job{a, &b} {
				if _, err := j.Once(t.Context()); err != nil {
					t.Fatalf("day %d: %v", day, err)
				}
			}
		}
	}
	got := names(t, dir)
	// The last look is at day 31 + 5h: a backup made 30 days and 5 hours ago is gone.
	if len(got) != 30 || got[0] != FileName(start.Add(2*24*time.Hour)) || got[29] != FileName(start.Add(31*24*time.Hour)) {
		t.Fatalf("after 32 days: %d backups %v; want the 30 of the last 30 days", len(got), got)
	}
	if len(rec.outcomes) != 32 || slices.Contains(rec.outcomes, false) {
		t.Errorf("metrics saw %v, want 32 successes", rec.outcomes)
	}
	fi, err := os.Stat(filepath.Join(dir, got[29]))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("newest backup: %v %v", err, fi.Mode())
	}
	restored := "sqlite://" + filepath.Join(t.TempDir(), "r.db")
	if _, err := sqlstore.Restore(t.Context(), restored, filepath.Join(dir, got[29]), time.Now()); err != nil {
		t.Fatalf("Restore of a scheduled backup: %v", err)
	}
	r, err := sqlstore.Open(t.Context(), restored)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Tenants().TenantBySlug(t.Context(), "one"); err != nil {
		t.Errorf("the restored scheduled backup: %v", err)
	}
}

type failing struct{}

func (failing) Backup(context.Context, string) error { return errors.New("disk full") }

// TestJobFailureKeepsNewest: a failing copy is reported (error and metric) and
// leaves no file; however long copies fail, the newest backup is never pruned.
func TestJobFailureKeepsNewest(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []int{0, 1} {
		if err := os.WriteFile(filepath.Join(dir, FileName(old.Add(time.Duration(d)*24*time.Hour))), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600) // not a backup: never touched
	rec := &recorder{}
	j := &Job{Store: failing{}, Leases: st.Maintenance(), Holder: "a", Dir: dir, Metrics: rec, Clock: clock.NewFake(old.Add(90 * 24 * time.Hour))}
	_, err = j.Once(t.Context())
	if err == nil || len(rec.outcomes) != 1 || rec.outcomes[0] {
		t.Fatalf("Once with a failing copy: %v, metrics %v; want the error and one failure", err, rec.outcomes)
	}
	if got := names(t, dir); !slices.Equal(got, []string{FileName(old.Add(24 * time.Hour)), "notes.txt"}) {
		t.Errorf("after a failed copy 90 days on: %v; want the newest backup (and the other file) kept", got)
	}
}
