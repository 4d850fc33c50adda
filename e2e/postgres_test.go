package e2e

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

func postgresDSN(t *testing.T) string { return testpg.DSN(t) }
