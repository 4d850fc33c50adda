package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBackupUnderLoadRestores is the operator's drill: `gatehouse backup` of the live
// SQLite store while users sign in, then `gatehouse restore` of that file into a new
// place, a gateway started on it (with the same master key) where a user signs in,
// and `gatehouse audit verify` passing on the restored trail. On the way: restore
// refuses while the gateway runs and refuses a file that is not a Gatehouse backup;
// the backup block writes its first backup at start.
func TestBackupUnderLoadRestores(t *testing.T) {
	keys := t.TempDir()
	masterKey := filepath.Join(keys, "master.key")
	scheduled := filepath.Join(t.TempDir(), "scheduled")
	live := filepath.Join(t.TempDir(), "live.db")
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + live, upstream: up.URL, site: siteConfig,
		app: "rate_limit login 0 0\n\t\tmaster_key_file " + masterKey + "\n\t\tbackup {\n\t\t\tevery 24h\n\t\t\tdir " + scheduled + "\n\t\t}"})
	const pw = "passphrase for the backup drill"
	users := []string{"ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"}
	for i, u := range users {
		role := "member"
		if i == 0 {
			role = "owner"
		}
		if out, err := g.cli(pw+"\n", "user", "add", "--email", u, "--role", role, "--password-stdin"); err != nil {
			t.Fatalf("user add: %v %s", err, out)
		}
	}

	// Load: every user signs in again and again while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, attempts atomic.Int64
	for _, u := range users {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				attempts.Add(1)
				if loginStatus(t, g.url, u, pw) == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	waitFor(t, "sign-ins under way", func() bool { return ok.Load() >= 8 })
	backup := filepath.Join(t.TempDir(), "gatehouse-backup.db")
	before := ok.Load() // sign-ins committed before the backup began: the copy has them
	out, err := g.cli("", "backup", "-o", backup)
	during := ok.Load()
	waitFor(t, "sign-ins after the backup", func() bool { return ok.Load() >= during+8 })
	close(stop)
	wg.Wait()
	if err != nil || !strings.Contains(out, "backup written to "+backup) {
		t.Fatalf("gatehouse backup under load: %v\n%s", err, out)
	}
	t.Logf("backup under load: %d of %d sign-ins succeeded meanwhile; %s", ok.Load(), attempts.Load(), strings.TrimSpace(out))
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v (mode %v), want 0600", err, fi.Mode().Perm())
	}

	// Restore refuses to replace the store the gateway runs on, and a foreign file.
	if out, err := g.cli("", "restore", "-i", backup); err == nil || !strings.Contains(out, "the store is in use") {
		t.Fatalf("restore while the gateway runs: %v\n%s", err, out)
	}
	if out, err := g.cli("", "restore", "-i", g.config); err == nil || !strings.Contains(out, "not a Gatehouse backup") {
		t.Fatalf("restore of a Caddyfile: %v\n%s", err, out)
	}
	if st := loginStatus(t, g.url, users[1], pw); st != http.StatusOK {
		t.Fatalf("the live gateway after the refused restores: sign-in %d", st)
	}
	entries, err := os.ReadDir(scheduled)
	if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "gatehouse-") {
		t.Fatalf("the backup block wrote %v (%v); want one gatehouse-<time>.db at start", entries, err)
	}
	g.stop()

	// Restore into a new place and run a gateway there.
	restored := filepath.Join(t.TempDir(), "data", "gatehouse.db")
	cfgDir := t.TempDir()
	restoreCfg := filepath.Join(cfgDir, "Caddyfile")
	if err := os.WriteFile(restoreCfg, []byte("{\n\tgatehouse {\n\t\tstore sqlite://"+restored+"\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "restore", "--config", restoreCfg, "--adapter", "caddyfile", "-i", backup)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+cfgDir, "HOME="+cfgDir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "restored "+backup+" into "+restored) {
		t.Fatalf("gatehouse restore into a new place: %v\n%s", err, out)
	}
	g2 := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + restored, upstream: up.URL, site: siteConfig,
		app: "master_key_file " + masterKey})
	for _, u := range users {
		if st := loginStatus(t, g2.url, u, pw); st != http.StatusOK {
			t.Fatalf("sign-in of %s on the restored store: %d\n%s", u, st, g2.logs())
		}
	}
	g2.stop()
	n := verifyIntact(t, g2, g2.config)
	if int64(n) < before {
		t.Errorf("the restored trail has %d records; %d sign-ins had succeeded before the backup began", n, before)
	}
}

// TestBackupRefusesPostgres: the backup command does not pretend to back up a
// PostgreSQL store; it says what to use instead.
func TestBackupRefusesPostgres(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte("{\n\tgatehouse {\n\t\tstore postgres://gatehouse@127.0.0.1:1/none\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "backup", "--config", cfg, "--adapter", "caddyfile", "-o", filepath.Join(dir, "x.db"))
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pg_dump") {
		t.Fatalf("backup of a PostgreSQL store: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a refused backup left a file: %v", err)
	}
}
