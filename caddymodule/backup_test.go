package caddymodule

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/internal/backup"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// TestBackupConfigDefaults: the backup block is off by default; given (even empty, in
// JSON) it backs up daily and keeps 30 days in the data directory; mail_retention
// defaults to 24h.
func TestBackupConfigDefaults(t *testing.T) {
	a := &App{}
	if err := a.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if a.Backup != nil || time.Duration(a.MailRetention) != notify.DefaultRetention {
		t.Fatalf("defaults: backup %+v, mail_retention %v", a.Backup, time.Duration(a.MailRetention))
	}
	a = &App{}
	if err := json.Unmarshal([]byte(`{"backup": {}}`), a); err != nil {
		t.Fatal(err)
	}
	if err := a.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	want := Backup{Every: caddy.Duration(backup.DefaultEvery), Keep: caddy.Duration(backup.DefaultKeep), Dir: filepath.Join(caddy.AppDataDir(), "gatehouse", "backups")}
	if *a.Backup != want {
		t.Errorf("backup defaults %+v, want %+v", *a.Backup, want)
	}
}

// TestBackupConfigErrors: JSON configs (which skip the Caddyfile parser) are checked
// too, every problem reported at once.
func TestBackupConfigErrors(t *testing.T) {
	a := &App{}
	if err := json.Unmarshal([]byte(`{"store": "postgres://db/gatehouse", "mail_retention": 60000000000,
		"backup": {"every": 600000000000, "keep": 300000000000}}`), a); err != nil {
		t.Fatal(err)
	}
	err := a.applyDefaults()
	if err == nil {
		t.Fatal("bad backup config accepted")
	}
	for _, want := range []string{"mail_retention 1m0s: at least 1h", "backup: every 10m0s: at least 1h", "keep 5m0s is shorter than every 10m0s", "pg_dump"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
