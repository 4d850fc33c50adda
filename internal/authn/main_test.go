package authn_test

import (
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// TestMain silences go-redis's own logger: the outage and fail-over tests make many
// refused dials on purpose.
func TestMain(m *testing.M) {
	kvtest.QuietRedisLog()
	os.Exit(m.Run())
}
