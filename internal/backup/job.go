package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// Defaults of the scheduled backups.
const (
	DefaultEvery = 24 * time.Hour
	DefaultKeep  = 30 * 24 * time.Hour
	// MinEvery is the shortest interval accepted: a copy of the whole database is
	// not a thing to make every few minutes.
	MinEvery = time.Hour
)

// Store is what the job needs from the store: an online copy to a new file.
type Store interface {
	Backup(ctx context.Context, path string) error
}

// Leases is the store's lease table (store.Maintenance has it).
type Leases interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
}

// Metrics receives the outcome of each backup the job attempts (nil: none).
type Metrics interface {
	BackupDone(ok bool, at time.Time)
}

// Job makes scheduled backups into Dir. Its zero Every and Keep take the defaults.
type Job struct {
	Store   Store
	Leases  Leases
	Holder  string // this instance's name for the lease
	Dir     string
	Every   time.Duration
	Keep    time.Duration
	Metrics Metrics
	Clock   clock.Clock
	Logger  *zap.Logger
}

// leaseName names the lease; it lasts leaseTTL, longer than any copy should take, so
// that no second instance starts one meanwhile.
const (
	leaseName = "backup"
	leaseTTL  = time.Hour
)

// File names: gatehouse-20261201T170000Z.db, sortable by time.
const (
	namePrefix = "gatehouse-"
	nameSuffix = ".db"
	nameTime   = "20060102T150405Z"
)

// FileName is the name of a backup made at t.
func FileName(t time.Time) string { return namePrefix + t.UTC().Format(nameTime) + nameSuffix }

// parseName returns the time in a backup's file name; false for other files.
func parseName(name string) (time.Time, bool) {
	s, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return time.Time{}, false
	}
	if s, ok = strings.CutSuffix(s, nameSuffix); !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(nameTime, s)
	return t, err == nil
}

func (j *Job) every() time.Duration { return cmpOr(j.Every, DefaultEvery) }
func (j *Job) keep() time.Duration  { return cmpOr(j.Keep, DefaultKeep) }

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Result says what one round did.
type Result struct {
	Made    string   // the path of the backup written; "" when none was due
	Removed []string // the expired backups deleted
}

// Once makes a backup when this instance gets the lease and the newest backup in Dir
// is at least Every old (or there is none), then deletes the expired ones. A failed
// copy leaves no file behind and is returned (after the pruning, which never touches
// the newest backup).
func (j *Job) Once(ctx context.Context) (Result, error) {
	now := j.Clock.Now()
	ok, err := j.Leases.AcquireLease(ctx, leaseName, j.Holder, leaseTTL, now)
	if err != nil {
		return Result{}, fmt.Errorf("taking the backup lease: %w", err)
	}
	if !ok {
		return Result{}, nil
	}
	if err := os.MkdirAll(j.Dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("creating the backup directory: %w", err)
	}
	times, err := list(j.Dir)
	if err != nil {
		return Result{}, err
	}
	var r Result
	var copyErr error
	if len(times) == 0 || now.Sub(times[len(times)-1]) >= j.every() {
		path := filepath.Join(j.Dir, FileName(now))
		if copyErr = j.Store.Backup(ctx, path); copyErr == nil {
			r.Made = path
			times = append(times, now.UTC().Truncate(time.Second))
		} else {
			copyErr = fmt.Errorf("backing up to %s: %w", path, copyErr)
		}
		if j.Metrics != nil {
			j.Metrics.BackupDone(copyErr == nil, now)
		}
	}
	removed, pruneErr := prune(j.Dir, times, now.Add(-j.keep()))
	r.Removed = removed
	return r, errors.Join(copyErr, pruneErr)
}

// list returns the times of the backups in dir, oldest first.
func list(dir string) ([]time.Time, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the backup directory: %w", err)
	}
	var out []time.Time
	for _, e := range entries {
		if t, ok := parseName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out, nil
}

// prune deletes the backups (times, oldest first) made before cut, except the newest.
func prune(dir string, times []time.Time, cut time.Time) ([]string, error) {
	var removed []string
	var errs []error
	for _, t := range times[:max(len(times)-1, 0)] {
		if !t.Before(cut) {
			break
		}
		path := filepath.Join(dir, FileName(t))
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("deleting the expired backup %s: %w", path, err))
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// checkInterval is how often Run looks: often enough that a backup is at most this
// late, rarely enough to cost nothing.
func (j *Job) checkInterval() time.Duration { return min(j.every()/4, 10*time.Minute) }

// Run makes backups until ctx ends; failures are logged (and counted by Metrics),
// and the next look tries again.
func (j *Job) Run(ctx context.Context) {
	log := j.Logger
	if log == nil {
		log = zap.NewNop()
	}
	t := time.NewTicker(j.checkInterval())
	defer t.Stop()
	for {
		r, err := j.Once(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("scheduled backup failed", zap.String("dir", j.Dir), zap.Error(err))
		}
		if r.Made != "" {
			log.Info("backup written", zap.String("file", r.Made))
		}
		for _, p := range r.Removed {
			log.Info("expired backup deleted", zap.String("file", p))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
