// Package testenv holds what the tests of several packages share: the rule for tests
// that need a service or a tool this machine may lack (skipped with the reason outside
// CI; a failure in CI, where nothing may skip) and the -short tier. Its subpackages hold
// shared fixtures: testdb (a real SQLite store and workspaces to run use cases on).
// It imports nothing of Gatehouse, so every package's tests can use it.
package testenv

import (
	"os"
	"testing"
)

// CI tells whether the tests run in CI (the CI variable is set): there, a missing
// service or tool is a failure, never a skip.
func CI() bool { return os.Getenv("CI") != "" }

// Need stops a test that cannot run here: outside CI it is skipped with why, in CI it
// fails.
func Need(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skipf("skipping outside CI: %s (in CI this fails)", why)
}

// Short skips a slow test (end to end, real browser, real servers) under go test
// -short, the fast loop; `make test` and CI run it.
func Short(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: not in the -short loop (make test and CI run it)", what)
	}
}
