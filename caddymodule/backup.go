package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/backup"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Backup schedules backups of the embedded SQLite store: every Every, the gateway
// (one instance at a time, through a store lease) writes a consistent copy
// gatehouse-<UTC time>.db into Dir and deletes the copies older than Keep (never the
// newest). PostgreSQL stores are refused: back them up with pg_dump or point-in-time
// recovery. The copies do not hold the master key: back it up separately.
type Backup struct {
	// Every is the interval between backups. Default 24h; at least 1h.
	Every caddy.Duration `json:"every,omitempty"`
	// Keep is how long a backup is kept. Default 30d; at least Every.
	Keep caddy.Duration `json:"keep,omitempty"`
	// Dir is where the backups go (created 0700). Default <data dir>/gatehouse/backups.
	Dir string `json:"dir,omitempty"`
}

// minMailRetention: a shorter retention would drop mail during a short SMTP outage.
const minMailRetention = time.Hour

// checkBackup fills in the defaults of the backup block and mail_retention and
// checks them.
func (a *App) checkBackup() []error {
	var errs []error
	if a.MailRetention == 0 {
		a.MailRetention = caddy.Duration(notify.DefaultRetention)
	}
	if r := time.Duration(a.MailRetention); r < minMailRetention {
		errs = append(errs, fmt.Errorf("mail_retention %v: at least 1h (default 24h)", r))
	}
	b := a.Backup
	if b == nil {
		return errs
	}
	if b.Every == 0 {
		b.Every = caddy.Duration(backup.DefaultEvery)
	}
	if b.Keep == 0 {
		b.Keep = caddy.Duration(backup.DefaultKeep)
	}
	if b.Dir == "" {
		b.Dir = filepath.Join(caddy.AppDataDir(), "gatehouse", "backups")
	}
	if e := time.Duration(b.Every); e < backup.MinEvery {
		errs = append(errs, fmt.Errorf("backup: every %v: at least 1h (default 24h)", e))
	}
	if time.Duration(b.Keep) < time.Duration(b.Every) {
		errs = append(errs, fmt.Errorf("backup: keep %v is shorter than every %v: no backup would be kept until the next", time.Duration(b.Keep), time.Duration(b.Every)))
	}
	if !isSQLiteFile(caddy.NewReplacer().ReplaceAll(a.Store, "")) {
		errs = append(errs, errors.New("backup: scheduled backups copy the embedded SQLite store; this store is not a SQLite file (for PostgreSQL use pg_dump or point-in-time recovery: see the README, Backups)"))
	}
	return errs
}

// backupBlock reads
//
//	backup {
//	    every <duration>
//	    keep  <duration, e.g. 30d>
//	    dir   <directory>
//	}
func backupBlock(d *caddyfile.Dispenser) (*Backup, error) {
	if d.NextArg() {
		return nil, d.Errf("gatehouse: backup takes a block, not %q", d.Val())
	}
	b := new(Backup)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return nil, d.Errf("gatehouse: backup: %q given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "every":
			b.Every, err = durationArg(d)
		case "keep":
			b.Keep, err = durationArg(d)
		case "dir":
			b.Dir, err = oneArg(d)
		default:
			return nil, d.Errf("gatehouse: backup: unknown subdirective %q (want every, keep, dir)", name)
		}
		if err != nil {
			return nil, err
		}
	}
	if b.Every != 0 && time.Duration(b.Every) < backup.MinEvery {
		return nil, d.Errf("gatehouse: backup: every %v: at least 1h (default 24h)", time.Duration(b.Every))
	}
	if b.Every < 0 || b.Keep < 0 {
		return nil, d.Err("gatehouse: backup: every and keep must be positive")
	}
	return b, nil
}

// backupJob builds the scheduled backup job; nil when the backup block is absent.
func (a *App) backupJob(st store.Store, holder string, clk clock.Clock) (*backup.Job, error) {
	if a.Backup == nil {
		return nil, nil
	}
	b, ok := st.(backup.Store)
	if !ok {
		return nil, errors.New("backup: this store cannot be backed up by Gatehouse")
	}
	return &backup.Job{Store: b, Leases: st.Maintenance(), Holder: holder, Dir: a.Backup.Dir,
		Every: time.Duration(a.Backup.Every), Keep: time.Duration(a.Backup.Keep), Metrics: theBackupMetrics,
		Clock: clk, Logger: a.logger.Named("backup")}, nil
}

// startBackups runs the backup job (when configured) until ctx ends.
func (a *App) startBackups(ctx context.Context, st store.Store, holder string, clk clock.Clock) error {
	j, err := a.backupJob(st, holder, clk)
	if err != nil || j == nil {
		return err
	}
	go j.Run(ctx)
	a.logger.Info("scheduled backups on", zap.String("dir", j.Dir), zap.Duration("every", j.Every), zap.Duration("keep", j.Keep))
	return nil
}

// backupMetrics are the series of the scheduled backups (process-wide, like the
// others: they survive config reloads).
type backupMetrics struct {
	failures    prometheus.Counter
	lastSuccess prometheus.Gauge
}

var (
	theBackupMetrics = &backupMetrics{
		failures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "gatehouse", Name: "backup_failures_total",
			Help: "Scheduled backups that failed (see the log)."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "gatehouse", Name: "backup_last_success_timestamp_seconds",
			Help: "Unix time of the last scheduled backup that succeeded (alert when it is older than the interval)."}),
	}
	backupMetricsMu sync.Mutex
)

// BackupDone records one attempt.
func (m *backupMetrics) BackupDone(ok bool, at time.Time) {
	if ok {
		m.lastSuccess.Set(float64(at.Unix()))
	} else {
		m.failures.Inc()
	}
}

// registerBackupMetrics registers the backup series in reg (once per registry).
func registerBackupMetrics(reg prometheus.Registerer) {
	backupMetricsMu.Lock()
	defer backupMetricsMu.Unlock()
	for _, c := range []prometheus.Collector{theBackupMetrics.failures, theBackupMetrics.lastSuccess} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				caddy.Log().Named("gatehouse").Error("registering metric", zap.Error(err))
			}
		}
	}
}
