package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// auditTrailFixture runs the gateway on dsn, makes audit records — users added and a
// role changed through the CLI, sign-ins that succeed and one that fails — stops it,
// and returns the stopped gateway (its config still names dsn).
func auditTrailFixture(t *testing.T, dsn string) *gateway {
	t.Helper()
	up := newRecorder(t)
	g := startGateway(t, dsn, up.URL, siteConfig)
	const pw = "passphrase for the audit verify test"
	for _, u := range [][2]string{{"boss@example.com", "owner"}, {"mia@example.com", "member"}} {
		if out, err := g.cli(pw+"\n", "user", "add", "--email", u[0], "--role", u[1], "--password-stdin"); err != nil {
			t.Fatalf("user add: %v %s", err, out)
		}
	}
	for _, c := range []struct {
		email, password string
		want            int
	}{{"mia@example.com", pw, http.StatusOK}, {"mia@example.com", "wrong password", http.StatusUnauthorized}, {"boss@example.com", pw, http.StatusOK}} {
		if st := loginStatus(t, g.url, c.email, c.password); st != c.want {
			t.Fatalf("sign-in of %s: %d, want %d", c.email, st, c.want)
		}
	}
	cliOK(t, g, "admin", "user", "set-role", "--email", "mia@example.com", "--role", "admin")
	g.stop()
	return g
}

var intactRE = regexp.MustCompile(`(?m)^tenant default: (\d+) records, chain intact \(last hash ([0-9a-f]{64})\)$`)

// verifyIntact runs audit verify with config and returns the number of records.
func verifyIntact(t *testing.T, g *gateway, config string) int {
	t.Helper()
	out, err := verifyWith(g, config)
	m := intactRE.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("audit verify of the untouched trail: %v\n%s", err, out)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 6 {
		t.Fatalf("only %d audit records (want user adds, sign-ins, a failure, a role change):\n%s", n, out)
	}
	return n
}

// verifyBroken runs audit verify with config and wants a non-zero exit naming the
// record and the kind of break.
func verifyBroken(t *testing.T, g *gateway, config, what string, seq int, kind string) {
	t.Helper()
	out, err := verifyWith(g, config)
	if exitErr, ok := errors.AsType[*exec.ExitError](err); !ok || exitErr.ExitCode() == 0 {
		t.Fatalf("%s: audit verify did not fail: %v\n%s", what, err, out)
	}
	if want := fmt.Sprintf("tenant default: audit chain BROKEN at record %d: %s: ", seq, kind); !strings.Contains(out, want) {
		t.Fatalf("%s: audit verify output lacks %q:\n%s", what, want, out)
	}
	t.Logf("%s:\n%s", what, out)
}

// eraseUser erases the user's personal data from the default tenant's trail with the
// store's ErasePersonal (what the privacy use case calls) and returns how many records
// it erased (at least one).
func eraseUser(t *testing.T, dsn, userID string) int {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.Tenants().TenantBySlug(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Tenant(tn.ID).Audit().ErasePersonal(t.Context(), userID)
	if err != nil || res.Erased == 0 || res.Kept != 0 {
		t.Fatalf("erasing user %s: %+v, %v; want records erased, none of chain version 1", userID, res, err)
	}
	return res.Erased
}

// verifyErased wants audit verify to pass on the trail of n records, with the
// personal fields checked and erased records counted.
func verifyErased(t *testing.T, g *gateway, config string, n, erased int) {
	t.Helper()
	out, err := verifyWith(g, config)
	m := intactRE.FindStringSubmatch(out)
	want := fmt.Sprintf("tenant default: personal fields of %d records match their keyed digests; %d erased\n", n-erased, erased)
	if err != nil || m == nil || m[1] != strconv.Itoa(n) || !strings.Contains(out, want) {
		t.Fatalf("audit verify after erasing %d records: %v; want %q in\n%s", erased, err, want, out)
	}
	t.Logf("after the erasure:\n%s", out)
}

func verifyWith(g *gateway, config string) (string, error) {
	cmd := exec.Command(binary, "audit", "verify", "--config", config, "--adapter", "caddyfile", "--tenant", "default")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+g.dir, "XDG_CONFIG_HOME="+g.dir, "HOME="+g.dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sqliteCopy makes a consistent copy of the gateway's SQLite store with the sqlite3
// CLI and returns the copy's path and a config naming it.
func sqliteCopy(t *testing.T, g *gateway, db, name string) (string, string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name+".db")
	sqlite(t, db, ".backup '"+dst+"'")
	cfg, err := os.ReadFile(g.config)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(filepath.Dir(dst), "Caddyfile")
	if err := os.WriteFile(config, []byte(strings.ReplaceAll(string(cfg), "sqlite://"+db, "sqlite://"+dst)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst, config
}

func sqlite(t *testing.T, db, script string) string {
	t.Helper()
	cmd := exec.Command("sqlite3", "-bail", db)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v\n%s\n%s", db, err, script, out)
	}
	return strings.TrimSpace(string(out))
}

// dropTriggers removes the append-only guard, as someone with the database file can.
const dropTriggers = "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;\n"

// inDefault restricts an audit_log statement to the default tenant.
const inDefault = "tenant_id = (SELECT id FROM tenants WHERE slug = 'default')"

// TestAuditVerifySQLite: audit verify passes on a real trail and names the first
// altered, removed, reordered or inserted record once the triggers are gone.
func TestAuditVerifySQLite(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		testenv.Need(t, "the sqlite3 CLI is not installed (apt-get install sqlite3)")
	}
	db := filepath.Join(t.TempDir(), "gh.db")
	g := auditTrailFixture(t, "sqlite://"+db)
	n := verifyIntact(t, g, g.config)

	// The append-only triggers refuse a change while they are there.
	if out, err := exec.Command("sqlite3", db, "UPDATE audit_log SET outcome = 'x' WHERE seq = 1;").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "append-only") {
		t.Fatalf("UPDATE with the triggers in place: %v %s", err, out)
	}

	t.Run("altered", func(t *testing.T) {
		copyDB, config := sqliteCopy(t, g, db, "altered")
		seq, _ := strconv.Atoi(sqlite(t, copyDB, "SELECT seq FROM audit_log WHERE outcome = 'failure' AND "+inDefault+" ORDER BY seq LIMIT 1;"))
		if seq == 0 {
			t.Fatal("no failed sign-in in the trail")
		}
		sqlite(t, copyDB, dropTriggers+fmt.Sprintf("UPDATE audit_log SET outcome = 'success' WHERE seq = %d AND %s;", seq, inDefault))
		verifyBroken(t, g, config, "failed sign-in turned into a success", seq, "altered")
	})
	t.Run("removed", func(t *testing.T) {
		copyDB, config := sqliteCopy(t, g, db, "removed")
		sqlite(t, copyDB, dropTriggers+fmt.Sprintf("DELETE FROM audit_log WHERE seq = %d AND %s;", n/2, inDefault))
		verifyBroken(t, g, config, "middle record deleted", n/2, "removed")
	})
	t.Run("swapped", func(t *testing.T) {
		copyDB, config := sqliteCopy(t, g, db, "swapped")
		a, b := n/2, n/2+1
		sqlite(t, copyDB, dropTriggers+fmt.Sprintf(`UPDATE audit_log SET seq = 1000000 WHERE seq = %[1]d AND %[3]s;
UPDATE audit_log SET seq = %[1]d WHERE seq = %[2]d AND %[3]s;
UPDATE audit_log SET seq = %[2]d WHERE seq = 1000000 AND %[3]s;`, a, b, inDefault))
		verifyBroken(t, g, config, "two records' sequence numbers swapped", a, "reordered")
	})
	t.Run("erased", func(t *testing.T) {
		copyDB, config := sqliteCopy(t, g, db, "erased")
		id := sqlite(t, copyDB, "SELECT id FROM users WHERE email = 'mia@example.com';")
		erased := eraseUser(t, "sqlite://"+copyDB, id)
		if left := sqlite(t, copyDB, "SELECT COUNT(*) FROM audit_log WHERE version = 2 AND (actor_email LIKE 'mia@%' OR details LIKE '%mia@%');"); left != "0" {
			t.Fatalf("%s version-2 records still hold mia's e-mail after the erasure", left)
		}
		verifyErased(t, g, config, n, erased)
	})
	t.Run("e-mail edited", func(t *testing.T) {
		copyDB, config := sqliteCopy(t, g, db, "email")
		seq, _ := strconv.Atoi(sqlite(t, copyDB, "SELECT seq FROM audit_log WHERE actor_email = 'boss@example.com' AND version = 2 AND "+inDefault+" ORDER BY seq LIMIT 1;"))
		if seq == 0 {
			t.Fatal("no version-2 record with boss's e-mail in the trail")
		}
		sqlite(t, copyDB, dropTriggers+fmt.Sprintf("UPDATE audit_log SET actor_email = 'mia@example.com' WHERE seq = %d AND %s;", seq, inDefault))
		verifyBroken(t, g, config, "an e-mail changed behind the gateway's back", seq, "altered")
		if out, _ := verifyWith(g, config); !strings.Contains(out, "a personal field was changed") {
			t.Fatalf("the verdict does not say a personal field changed:\n%s", out)
		}
	})
	t.Run("forged", func(t *testing.T) {
		copyDB, config := sqliteCopy(t, g, db, "forged")
		// A forged sign-in appended after the last record, its hashes copied from it.
		sqlite(t, copyDB, fmt.Sprintf(`INSERT INTO audit_log (tenant_id, seq, time, actor_id, actor_email, action, target, outcome,
	ip, user_agent, session_id, request_id, details, prev_hash, hash)
SELECT tenant_id, seq + 1, time + 1, actor_id, 'intruder@example.com', action, target, outcome,
	ip, user_agent, session_id, request_id, details, prev_hash, hash FROM audit_log WHERE seq = %d AND %s;`, n, inDefault))
		verifyBroken(t, g, config, "forged record appended", n+1, "inserted")
	})
}

// TestAuditVerifyPostgres: the same on PostgreSQL, where the trigger is disabled
// with psql before a record is altered.
func TestAuditVerifyPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	psqlPath, err := exec.LookPath("psql")
	if err != nil {
		testenv.Need(t, "the psql CLI is not installed (apt-get install postgresql-client)")
	}
	g := auditTrailFixture(t, dsn)
	n := verifyIntact(t, g, g.config)

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	psql := func(script string) string {
		t.Helper()
		cmd := exec.Command(psqlPath, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", u.String())
		cmd.Stdin = strings.NewReader("SET search_path TO " + schema + ";\n" + script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s\n%s", err, script, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The trigger refuses the change while it is enabled.
	cmd := exec.Command(psqlPath, "-X", "-q", "-v", "ON_ERROR_STOP=1", u.String())
	cmd.Stdin = strings.NewReader("SET search_path TO " + schema + ";\nUPDATE audit_log SET outcome = 'x' WHERE seq = 1;")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "append-only") {
		t.Fatalf("UPDATE with the trigger enabled: %v %s", err, out)
	}
	seq, _ := strconv.Atoi(psql("SELECT seq FROM audit_log WHERE outcome = 'failure' AND " + inDefault + " ORDER BY seq LIMIT 1;"))
	if seq == 0 || seq > n {
		t.Fatalf("failed sign-in at record %d of %d", seq, n)
	}
	// Erasing a user's personal data needs no trigger disabled, and the trail verifies.
	erased := eraseUser(t, dsn, psql("SELECT id FROM users WHERE email = 'boss@example.com';"))
	verifyErased(t, g, g.config, n, erased)

	psql(fmt.Sprintf(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
UPDATE audit_log SET ip = '203.0.113.66' WHERE seq = %d AND %s;`, seq, inDefault))
	verifyBroken(t, g, g.config, "PostgreSQL: failed sign-in's IP changed", seq, "altered")
}
