// Package testpg gives tests a private PostgreSQL schema on the shared test server.
// Outside CI an unreachable server skips the test with the reason; with CI set it fails.
package testpg

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// DefaultDSN is the test server (trust auth, database test).
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseDSN is GATEHOUSE_TEST_POSTGRES or DefaultDSN.
func BaseDSN() string {
	if d := os.Getenv("GATEHOUSE_TEST_POSTGRES"); d != "" {
		return d
	}
	return DefaultDSN
}

// DSN creates a fresh schema, drops it when the test ends, and returns a DSN whose
// search_path points at it, so each test starts from an empty database.
func DSN(t testing.TB) string {
	t.Helper()
	testenv.Short(t, "PostgreSQL")
	base := BaseDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Need(t, fmt.Sprintf("PostgreSQL at %s is unreachable (set GATEHOUSE_TEST_POSTGRES, or run make test, which starts one): %v", base, err))
	}
	defer conn.Close(context.Background())
	schema := "gh_test_" + secret.NewID()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
