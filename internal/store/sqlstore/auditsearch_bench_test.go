package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// bench1MEnv must be set for BenchmarkAuditSearch1M to load its million records.
const bench1MEnv = "GATEHOUSE_BENCH_1M"

// Dataset of BenchmarkAuditSearch1M: one large tenant and a small second one whose
// rows interleave in every index.
const (
	benchBigRecords   = 1_000_000
	benchSmallRecords = 5_000
	benchActors       = 5_000
	benchIPs          = 20_000
	benchStep         = 30 * time.Second // mean gap between records: 1 M span about a year
)

// benchStart is the time of each tenant's first record.
var benchStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// benchActions are the actions of the synthetic trail with their weights (per mille)
// and the outcomes they take.
var benchActions = []struct {
	action   string
	weight   int
	outcomes []string
}{
	{"auth.login.success", 420, []string{"success"}},
	{"auth.login.failure", 120, []string{"failure"}},
	{"auth.logout", 150, []string{"success"}},
	{"session.refresh", 120, []string{"success"}},
	{"session.revoke", 40, []string{"success"}},
	{"gateway.deny", 60, []string{"denied"}},
	{"mfa.totp.verify", 50, []string{"success", "failure"}},
	{"token.issue", 25, []string{"success"}},
	{"user.update", 10, []string{"success"}},
	{"user.password.change", 3, []string{"success", "failure"}},
	{"admin.user.create", 1, []string{"success"}},
	{"admin.role.grant", 1, []string{"success", "denied"}},
}

// benchRecords generates a tenant's n records, seq 1..n, with a linked chain computed
// by audit.Hash (search does not read the chain, but the rows are what Append would
// have stored), and passes them to emit in order.
func benchRecords(tenantID string, n int, seed uint64, emit func(store.AuditRecord) error) error {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	total := 0
	for _, a := range benchActions {
		total += a.weight
	}
	prev := audit.ZeroHash
	t := benchStart.UnixNano()
	for seq := 1; seq <= n; seq++ {
		t += int64(benchStep/2) + rng.Int64N(int64(benchStep))
		w := rng.IntN(total)
		ai := 0
		for w >= benchActions[ai].weight {
			w -= benchActions[ai].weight
			ai++
		}
		act := benchActions[ai]
		actor := rng.IntN(benchActors)
		ip := rng.IntN(benchIPs)
		r := store.AuditRecord{
			Seq:        int64(seq),
			Time:       time.Unix(0, t).UTC(),
			TenantID:   tenantID,
			ActorID:    fmt.Sprintf("usr-%05d", actor),
			ActorEmail: fmt.Sprintf("user%05d@example.com", actor),
			Action:     act.action,
			Target:     fmt.Sprintf("user:usr-%05d", actor),
			Outcome:    act.outcomes[rng.IntN(len(act.outcomes))],
			IP:         fmt.Sprintf("10.%d.%d.%d", ip>>16, (ip>>8)&0xff, ip&0xff),
			UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
			SessionID:  fmt.Sprintf("ses-%016x", rng.Uint64()),
			RequestID:  fmt.Sprintf("req-%016x", rng.Uint64()),
			PrevHash:   prev,
		}
		if strings.HasPrefix(act.action, "admin.") || strings.HasPrefix(act.action, "session.revoke") {
			r.Target = fmt.Sprintf("user:usr-%05d", rng.IntN(benchActors))
		}
		if act.action == "gateway.deny" {
			r.Target = fmt.Sprintf("route:/app/%d", rng.IntN(200))
			r.Details = map[string]string{"reason": "permission", "method": "GET"}
		}
		r.Hash = audit.Hash(r)
		prev = r.Hash
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// benchRow is r as the audit_log columns of auditColumns.
func benchRow(r store.AuditRecord) []any {
	return []any{r.TenantID, r.Seq, r.Time.UnixNano(), r.ActorID, r.ActorEmail, r.Action, r.Target, r.Outcome,
		r.IP, r.UserAgent, r.SessionID, r.RequestID, mapArg(r.Details), r.PrevHash, r.Hash}
}

// benchLoad writes a tenant's n records straight into audit_log: COPY on PostgreSQL,
// multi-row INSERTs in large transactions (without fsync while loading) on SQLite.
func benchLoad(ctx context.Context, s *Store, tenantID string, n int, seed uint64) error {
	if err := s.Tenants().CreateTenant(ctx, store.Tenant{ID: tenantID, Slug: tenantID, Name: tenantID}); err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.dialect == postgresDialect {
		return benchCopy(ctx, conn, tenantID, n, seed)
	}
	return benchInsert(ctx, conn, tenantID, n, seed)
}

func benchCopy(ctx context.Context, conn *sql.Conn, tenantID string, n int, seed uint64) error {
	const chunk = 100_000
	cols := strings.Split(strings.ReplaceAll(auditColumns, " ", ""), ",")
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		rows := make([][]any, 0, chunk)
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			_, err := pc.CopyFrom(ctx, pgx.Identifier{"audit_log"}, cols, pgx.CopyFromRows(rows))
			rows = rows[:0]
			return err
		}
		err := benchRecords(tenantID, n, seed, func(r store.AuditRecord) error {
			rows = append(rows, benchRow(r))
			if len(rows) == chunk {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		_, err = pc.Exec(ctx, `ANALYZE audit_log`)
		return err
	})
}

func benchInsert(ctx context.Context, conn *sql.Conn, tenantID string, n int, seed uint64) error {
	const (
		perStmt = 1_000  // 15,000 variables, below SQLite's 32,766
		perTx   = 50_000 // rows per transaction
	)
	for _, p := range []string{`PRAGMA synchronous = OFF`, `PRAGMA cache_size = -262144`} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	defer conn.ExecContext(context.Background(), `PRAGMA synchronous = FULL`) //nolint:errcheck // best effort; the connection closes next
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", 15), ", ") + ")"
	stmt := `INSERT INTO audit_log (` + auditColumns + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+", ", perStmt), ", ")
	var tx *sql.Tx
	var ins *sql.Stmt
	args := make([]any, 0, 15*perStmt)
	inTx := 0
	flush := func(final bool) error {
		var err error
		if len(args) == 15*perStmt {
			_, err = ins.ExecContext(ctx, args...)
		} else if len(args) > 0 {
			q := `INSERT INTO audit_log (` + auditColumns + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+", ", len(args)/15), ", ")
			_, err = tx.ExecContext(ctx, q, args...)
		}
		args = args[:0]
		if err != nil {
			return err
		}
		if inTx >= perTx || final {
			inTx = 0
			ins.Close()
			if err := tx.Commit(); err != nil {
				return err
			}
			tx = nil
		}
		return nil
	}
	err := benchRecords(tenantID, n, seed, func(r store.AuditRecord) error {
		if tx == nil {
			var err error
			if tx, err = conn.BeginTx(ctx, nil); err != nil {
				return err
			}
			if ins, err = tx.PrepareContext(ctx, stmt); err != nil {
				return err
			}
		}
		args = append(args, benchRow(r)...)
		inTx++
		if len(args) == 15*perStmt {
			return flush(false)
		}
		return nil
	})
	if err == nil && tx != nil {
		err = flush(true)
	}
	if err != nil {
		if tx != nil {
			tx.Rollback() //nolint:errcheck // the load failed already
		}
		return err
	}
	_, err = conn.ExecContext(ctx, `ANALYZE`)
	return err
}

// benchDSN returns the DSN of a fresh database of the named backend, or skips.
func benchDSN(b *testing.B, name string) string {
	if name == "SQLite" {
		return "sqlite://" + filepath.Join(b.TempDir(), "gatehouse.db")
	}
	if os.Getenv("GATEHOUSE_TEST_POSTGRES") == "" {
		b.Skip("set GATEHOUSE_TEST_POSTGRES to run the PostgreSQL benchmark (benchmarks are not run in CI)")
	}
	return testpg.DSN(b)
}

// BenchmarkAuditSearch1M measures SearchAudit (pages of 50) over a trail of
// 1,000,000 records, per backend: SPEC's target is 100 ms for an indexed filter. The
// data is loaded once per backend and shared by the cases; set GATEHOUSE_BENCH_1M=1
// (the load takes a while, so plain `make bench` skips it).
func BenchmarkAuditSearch1M(b *testing.B) {
	if os.Getenv(bench1MEnv) == "" {
		b.Skipf("set %s=1 to run it (not run in CI or by default: it loads 1,000,000 records)", bench1MEnv)
	}
	day := benchStart.Add(benchBigRecords / 2 * benchStep)
	cases := []struct {
		name string
		q    store.AuditQuery
	}{
		{"Actor", store.AuditQuery{ActorID: "usr-00042"}},
		{"ActorEmail", store.AuditQuery{ActorEmail: "User00042@example.com"}},
		{"ActionPrefixCommon", store.AuditQuery{ActionPrefix: "auth.login."}},
		{"ActionPrefixRare", store.AuditQuery{ActionPrefix: "admin."}},
		// A rare action in the trail's first month: no index serves a prefix of
		// action (substr), so the filter is checked on every row the plan reads.
		{"ActionPrefixScarce", store.AuditQuery{ActionPrefix: "admin.user.create", To: benchStart.Add(30 * 24 * time.Hour)}},
		{"OutcomeTimeRange", store.AuditQuery{Outcome: "failure", From: day, To: day.Add(24 * time.Hour)}},
		{"Target", store.AuditQuery{Target: "user:usr-04242"}},
		{"IP", store.AuditQuery{IP: "10.0.66.77"}},
		{"Newest", store.AuditQuery{}},
		{"DeepKeyset", store.AuditQuery{BeforeSeq: benchBigRecords / 2}},
		{"ActorDeepKeyset", store.AuditQuery{ActorID: "usr-00042", BeforeSeq: benchBigRecords / 2}},
	}
	for _, name := range []string{"SQLite", "Postgres"} {
		b.Run(name, func(b *testing.B) {
			// This function runs once per backend (it only calls b.Run), so the
			// dataset loaded here is shared by every case below.
			ctx := context.Background()
			s, err := Open(ctx, benchDSN(b, name))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			if err := benchLoad(ctx, s, "tn-big", benchBigRecords, 1); err != nil {
				b.Fatalf("loading: %v", err)
			}
			if err := benchLoad(ctx, s, "tn-small", benchSmallRecords, 2); err != nil {
				b.Fatalf("loading: %v", err)
			}
			b.Logf("%s: loaded %d + %d records in %v", name, benchBigRecords, benchSmallRecords, time.Since(start).Round(time.Millisecond))
			as := s.Tenant("tn-big").Audit()
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					q := c.q
					q.Limit = 50
					got, err := as.SearchAudit(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(got) == 0 {
						b.Fatalf("%s: no records", c.name)
					}
					b.ResetTimer()
					for b.Loop() {
						if _, err := as.SearchAudit(ctx, q); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// benchTrail opens a fresh store of the backend name (closed when b ends) and returns
// the trail of a new tenant in it.
func benchTrail(b *testing.B, name string) store.AuditStore {
	ctx := context.Background()
	s, err := Open(ctx, benchDSN(b, name))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	id := "tn-" + rand16()
	if err := s.Tenants().CreateTenant(ctx, store.Tenant{ID: id, Slug: id, Name: "T"}); err != nil {
		b.Fatal(err)
	}
	return s.Tenant(id).Audit()
}

// BenchmarkAuditAppend measures durable sequential appends through Append with
// audit.Hash (SQLite with synchronous=FULL; PostgreSQL as configured) and reports
// records per second.
func BenchmarkAuditAppend(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			as := benchTrail(b, name)
			r := store.AuditRecord{ActorID: "usr-00001", ActorEmail: "user00001@example.com", Action: "auth.login.success",
				Target: "user:usr-00001", Outcome: "success", IP: "10.0.0.1", UserAgent: "Mozilla/5.0", SessionID: "ses-1", RequestID: "req-1"}
			start := time.Now()
			n := 0
			for b.Loop() {
				r.Time = time.Now()
				if _, err := as.Append(ctx, r, audit.Hash); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkAuditAppendBatch measures the group commit: durable, hash-chained appends
// of batches of 1,024 records, one transaction (one fsync) each, as the audit
// committer writes them under load. SPEC §13: at least 10,000 records/s on SQLite.
func BenchmarkAuditAppendBatch(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			as := benchTrail(b, name)
			const size = 1024
			batch := make([]store.AuditRecord, size)
			start := time.Now()
			n := 0
			for b.Loop() {
				for i := range batch {
					batch[i] = store.AuditRecord{Time: time.Now(), ActorID: "usr-00001", ActorEmail: "user00001@example.com",
						Action: "proxy.request", Target: "/api/deals/42", Outcome: "success", IP: "10.0.0.1", UserAgent: "Mozilla/5.0",
						SessionID: "ses-1", RequestID: fmt.Sprintf("req-%d", n+i),
						Details: map[string]string{"method": "POST", "status": "201", "rule": "rules[3]", "duration_ms": "12"}}
				}
				if _, err := as.AppendBatch(ctx, batch, audit.Hash); err != nil {
					b.Fatal(err)
				}
				n += size
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		})
	}
}
