package sqlstore

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// BenchmarkSessionLookup1M: SPEC §13 — looking a session up by its token hash (what a
// cache miss costs) takes the same time with 1,000,000 stored sessions as with 1,000.
// Each size gets a fresh database; the sessions are made by the database itself
// (a recursive CTE on SQLite, generate_series on PostgreSQL). Set GATEHOUSE_BENCH_1M=1.
func BenchmarkSessionLookup1M(b *testing.B) {
	if os.Getenv(bench1MEnv) == "" {
		b.Skipf("set %s=1 to run it (not run in CI or by default: it stores 1,000,000 sessions)", bench1MEnv)
	}
	for _, name := range []string{"SQLite", "Postgres"} {
		for _, n := range []int{1_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				ctx := context.Background()
				s, err := Open(ctx, benchDSN(b, name))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				start := time.Now()
				hashes, err := benchSessions(ctx, s, n)
				if err != nil {
					b.Fatalf("loading: %v", err)
				}
				b.Logf("%s: %d sessions stored in %v", name, n, time.Since(start).Round(time.Millisecond))
				ss := s.Tenant("tn-sess").Sessions()
				b.ResetTimer()
				i := 0
				for b.Loop() {
					if _, err := ss.SessionByTokenHash(ctx, hashes[i%len(hashes)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// benchSessions stores n sessions of one user in tenant tn-sess and returns the token
// hashes of 1,000 of them, spread over the table.
func benchSessions(ctx context.Context, s *Store, n int) ([][]byte, error) {
	if err := s.Tenants().CreateTenant(ctx, store.Tenant{ID: "tn-sess", Slug: "sess", Name: "Sessions"}); err != nil {
		return nil, err
	}
	if err := s.Tenant("tn-sess").Users().CreateUser(ctx, store.User{ID: "usr-1", Email: "u@example.com", Status: store.UserActive, Roles: []string{"member"}}); err != nil {
		return nil, err
	}
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	now := time.Now().UnixNano()
	var q string
	if s.dialect == postgresDialect {
		q = `INSERT INTO sessions (tenant_id, id, user_id, token_hash, auth_methods, created_at, expires_at, last_active, ip, user_agent)
			SELECT 'tn-sess', 'ses-' || i, 'usr-1', sha256(('tok-' || i)::bytea), '["pwd"]', $1, $2, $1, '203.0.113.7', '` + ua + `'
			FROM generate_series(1, $3) AS i`
	} else {
		q = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
			INSERT INTO sessions (tenant_id, id, user_id, token_hash, auth_methods, created_at, expires_at, last_active, ip, user_agent)
			SELECT 'tn-sess', 'ses-' || i, 'usr-1', randomblob(32), '["pwd"]', ?1, ?2, ?1, '203.0.113.7', '` + ua + `' FROM n`
	}
	if _, err := s.db.ExecContext(ctx, q, now, now+int64(24*time.Hour), n); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
		return nil, err
	}
	step := max(1, n/1000)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT token_hash FROM sessions WHERE tenant_id = 'tn-sess' ORDER BY id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hashes [][]byte
	for i := 0; rows.Next(); i++ {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		if i%step == 0 {
			hashes = append(hashes, h)
		}
	}
	return hashes, rows.Err()
}
