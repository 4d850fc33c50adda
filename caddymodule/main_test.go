package caddymodule

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the package's tests a Caddy data directory of their own: a config
// without master_key_file otherwise creates and reads the key file under the real
// user's data directory, where one test run (or another version) would leave its key
// for the next.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-caddymodule-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
