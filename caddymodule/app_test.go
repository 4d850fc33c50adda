package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestAppDefaultsReportEveryProblem(t *testing.T) {
	a := &App{BcryptCost: 40, MinPasswordLength: 4, BaseURL: "ftp://x", ReauthAge: -1e9, IdleTimeout: caddy.Duration(time.Minute)}
	err := a.applyDefaults()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"bcrypt_cost 40", "min_password_length 4", `base_url "ftp://x"`, "reauth_age -1s", "idle_timeout 1m0s: 0 (off) or at least 5m"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestMasterKeySources(t *testing.T) {
	dir := t.TempDir()
	a := &App{MasterKeyFile: filepath.Join(dir, "k", "master.key")}
	if _, _, err := a.fieldCipher(); err != nil {
		t.Fatalf("creating a key file: %v", err)
	}
	if fi, err := os.Stat(a.MasterKeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	t.Setenv("GH_TEST_MASTER_KEY", "not a key")
	a.MasterKey = "{env.GH_TEST_MASTER_KEY}"
	if _, _, err := a.fieldCipher(); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("bad key from env: %v", err)
	}
	t.Setenv("GH_TEST_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if _, _, err := a.fieldCipher(); err != nil {
		t.Fatalf("good key from env: %v", err)
	}
}
