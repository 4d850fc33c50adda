package e2e

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
	_ "modernc.org/sqlite" // the test moves the gateway's clock of removals back, in its database

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// apiRemovedFactor is a removed factor as GET .../factors/removed shows it.
type apiRemovedFactor struct {
	Kind       string `json:"kind"`
	ID         string `json:"id"`
	Unused     int    `json:"unused"`
	DaysLeft   int    `json:"days_left"`
	Superseded bool   `json:"superseded"`
}

func removedFactors(t *testing.T, c *http.Client, base, id string) []apiRemovedFactor {
	t.Helper()
	st, body := apiCall(t, c, "GET", base+"/auth/api/v1/admin/members/"+id+"/factors/removed", nil)
	if st != http.StatusOK {
		t.Fatalf("removed factors: %d %s", st, body)
	}
	return decodeJSON[struct {
		Removed []apiRemovedFactor `json:"removed_factors"`
	}](t, "removed factors", body).Removed
}

func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := otptotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolApp enrols an authenticator app for c's user through the API (the code of
// the current time step) and returns its secret and recovery codes.
func enrolApp(t *testing.T, c *http.Client, base string) (string, []string) {
	t.Helper()
	st, body := apiCall(t, c, "POST", base+"/auth/api/v1/totp/enroll", map[string]string{})
	secret := decodeJSON[map[string]string](t, "totp enroll", body)["secret"]
	if st != http.StatusOK || secret == "" {
		t.Fatalf("totp enroll: %d %s", st, body)
	}
	body = withCode(t, c, base+"/auth/api/v1/totp/confirm", secret)
	codes := decodeJSON[struct {
		Codes []string `json:"recovery_codes"`
	}](t, "totp confirm", body).Codes
	if len(codes) == 0 {
		t.Fatalf("totp confirm: %s", body)
	}
	return secret, codes
}

// withCode posts the app's code to url and returns the answer of the first code
// accepted: the current step's, else the next or the previous one (the gateway takes
// each step of a user once, whichever app, so a step an earlier call spent is
// refused as replayed).
func withCode(t *testing.T, c *http.Client, url, secret string) string {
	t.Helper()
	var st int
	var body string
	for _, off := range []time.Duration{0, 30 * time.Second, -30 * time.Second} {
		if st, body = apiCall(t, c, "POST", url, map[string]string{"code": totpAt(t, secret, time.Now().Add(off))}); st == http.StatusOK {
			return body
		}
	}
	t.Fatalf("no code of the app accepted at %s: %d %s", url, st, body)
	return ""
}

// passwordStep signs email in with the password in a new browser and returns it
// with the answer's body (signed in, or a second factor due).
func passwordStep(t *testing.T, base, email, pw string) (*http.Client, string) {
	t.Helper()
	c := browser(t)
	st, body := apiCall(t, c, "POST", base+"/auth/api/v1/login", map[string]string{"email": email, "password": pw})
	if st != http.StatusOK {
		t.Fatalf("password step of %s: %d %s", email, st, body)
	}
	return c, body
}

// TestRemovedFactorsRestoredThenPurged drives the built gateway through the life of
// removed second factors: an owner's reset removes a member's app and recovery codes
// — from then on the password alone signs them in, and the app's code and a recovery
// code are refused at a step-up; the owner restores both from the member's page API
// and the app is the second step again; an app the member enrolled anew cannot be
// overwritten by a restore of the old one; and once the removal lies more than 30
// days back, the background purge deletes it for good.
func TestRemovedFactorsRestoredThenPurged(t *testing.T) {
	const owner, ownerPW = "ottilie@example.com", "marble cactus rhythm seven"
	const email, pw = "fenna@example.com", "copper meadow puzzle nine"
	up := newRecorder(t)
	db := filepath.Join(t.TempDir(), "gh.db")
	g := startGateway(t, "sqlite://"+db, up.URL, siteConfig)
	addUser(t, g, owner, "owner", ownerPW)
	addUser(t, g, email, "member", pw)
	o, m := browser(t), browser(t)
	signInAs(t, o, g.url, owner, ownerPW)
	signInAs(t, m, g.url, email, pw)
	id := member(t, o, g.url, email).ID

	secret, codes := enrolApp(t, m, g.url)
	if _, body := passwordStep(t, g.url, email, pw); !strings.Contains(body, `"totp"`) || strings.Contains(body, `"signed_in"`) {
		t.Fatalf("the password step with an app: %s, want the second factor due", body)
	}

	// The owner resets the member's second factors.
	if st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/users/"+id+"/reset-2fa", nil); st != http.StatusOK {
		t.Fatalf("reset-2fa: %d %s", st, body)
	}
	// Removed factors count as none: the password alone signs in ...
	b, body := passwordStep(t, g.url, email, pw)
	if !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("the password step after the reset: %s, want signed in (no factor left)", body)
	}
	// ... and neither the removed app's code nor a removed recovery code steps a
	// session up.
	if st, body := apiCall(t, b, "POST", g.url+"/auth/api/v1/step-up/totp", map[string]string{"code": totpAt(t, secret, time.Now().Add(30*time.Second))}); st < 400 {
		t.Fatalf("stepping up with the removed app's code: %d %s", st, body)
	}
	if st, body := apiCall(t, b, "POST", g.url+"/auth/api/v1/step-up/recovery", map[string]string{"code": codes[0]}); st < 400 {
		t.Fatalf("stepping up with a removed recovery code: %d %s", st, body)
	}
	if st, me := apiCall(t, m, "GET", g.url+"/auth/api/v1/me", nil); st != http.StatusOK || !strings.Contains(me, `"totp":false`) {
		t.Fatalf("the member's factors after the reset: %d %s", st, me)
	}

	// The owner sees both as removed, restorable for 30 days; the member may not look.
	removed := removedFactors(t, o, g.url, id)
	if len(removed) != 2 || removed[0].DaysLeft != 30 || removed[1].DaysLeft != 30 {
		t.Fatalf("removed factors: %+v", removed)
	}
	if st, body := apiCall(t, m, "GET", g.url+"/auth/api/v1/admin/members/"+id+"/factors/removed", nil); st != http.StatusForbidden {
		t.Fatalf("a member listing removed factors: %d %s", st, body)
	}
	if st, body := apiCall(t, m, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/factors/restore", map[string]string{"kind": "totp"}); st != http.StatusForbidden {
		t.Fatalf("a member restoring their own factor: %d %s", st, body)
	}
	if st, page, _ := get(t, o, g.url+"/auth/admin/members/"+id); st != http.StatusOK || !strings.Contains(page, "Removed second factors") ||
		!strings.Contains(page, "/auth/admin/members/"+id+"/factors/restore") {
		t.Fatalf("the member's page after the reset: %d\n%s", st, page)
	}

	// Restored: the app is the second step again, its code signs in, and so does a
	// recovery code of the restored set.
	for _, kind := range []string{"totp", "recovery_codes"} {
		if st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/factors/restore", map[string]string{"kind": kind}); st != http.StatusOK {
			t.Fatalf("restoring %s: %d %s", kind, st, body)
		}
	}
	b, body = passwordStep(t, g.url, email, pw)
	if !strings.Contains(body, `"totp"`) || !strings.Contains(body, `"recovery"`) {
		t.Fatalf("the password step after the restore: %s, want the app and recovery codes due", body)
	}
	if body := withCode(t, b, g.url+"/auth/api/v1/login/totp", secret); !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("the restored app's code: %s", body)
	}
	r, _ := passwordStep(t, g.url, email, pw)
	if st, body := apiCall(t, r, "POST", g.url+"/auth/api/v1/login/recovery", map[string]string{"code": codes[1]}); st != http.StatusOK || !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("a restored recovery code: %d %s", st, body)
	}
	if left := removedFactors(t, o, g.url, id); len(left) != 0 {
		t.Fatalf("removed factors after the restore: %+v", left)
	}

	// Reset again, and the member enrols a new app: the old one is superseded.
	if st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/users/"+id+"/reset-2fa", nil); st != http.StatusOK {
		t.Fatalf("second reset-2fa: %d %s", st, body)
	}
	m2, _ := passwordStep(t, g.url, email, pw)
	newSecret, _ := enrolApp(t, m2, g.url)
	st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/factors/restore", map[string]string{"kind": "totp"})
	if st != http.StatusConflict || apiErrorCode(t, body) != "factor_superseded" {
		t.Fatalf("restoring an app enrolled anew since: %d %s, want 409 factor_superseded", st, body)
	}
	// The new app removed once more: restorable — until the purge.
	if st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/users/"+id+"/reset-2fa", nil); st != http.StatusOK {
		t.Fatalf("third reset-2fa: %d %s", st, body)
	}
	if r := removedFactors(t, o, g.url, id); len(r) == 0 || r[0].Kind != "totp" && r[len(r)-1].Kind != "totp" {
		t.Fatalf("removed factors before the purge: %+v", r)
	}

	// 31 days pass: the gateway stops, the removals move back 31 days in its
	// database, the purge lease of the stopped instance is let go, and the gateway
	// starts again; its purge job runs at once.
	g.stop()
	backdate(t, db, 31*24*time.Hour)
	g.start()
	waitFor(t, "the purge of the removed factors", func() bool {
		return countRows(t, db, `SELECT COUNT(*) FROM totp_secrets`)+countRows(t, db, `SELECT COUNT(*) FROM recovery_codes`) == 0
	})
	if r := removedFactors(t, o, g.url, id); len(r) != 0 {
		t.Fatalf("removed factors after the purge: %+v", r)
	}
	st, body = apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/factors/restore", map[string]string{"kind": "totp"})
	if st != http.StatusNotFound || apiErrorCode(t, body) != "no_such_factor" {
		t.Fatalf("restoring a purged app: %d %s, want 404 no_such_factor", st, body)
	}
	after, body := passwordStep(t, g.url, email, pw)
	if !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("the password step after the purge: %s", body)
	}
	if st, body := apiCall(t, after, "POST", g.url+"/auth/api/v1/step-up/totp", map[string]string{"code": totpAt(t, newSecret, time.Now().Add(90*time.Second))}); st < 400 {
		t.Fatalf("stepping up with the purged app's code: %d %s", st, body)
	}

	// The trail names each restore (and who did it) and still verifies.
	file := filepath.Join(t.TempDir(), "audit.csv")
	cliOK(t, g, "", "audit", "export", "--format", "csv", "-o", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), ",mfa.factor_restored,"); n != 2 {
		t.Errorf("%d mfa.factor_restored records in the trail, want 2", n)
	}
	cliOK(t, g, "chain intact", "audit", "verify")
}

// backdate moves every factor removal in the stopped gateway's SQLite database back
// by d and frees the purge job's lease.
func backdate(t *testing.T, path string, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"totp_secrets", "recovery_codes", "passkeys"} {
		if _, err := db.Exec(`UPDATE `+table+` SET deleted_at = deleted_at - ? WHERE deleted_at IS NOT NULL`, int64(d)); err != nil {
			t.Fatalf("backdating %s: %v", table, err)
		}
	}
	if _, err := db.Exec(`UPDATE leases SET expires_at = 0`); err != nil {
		t.Fatalf("freeing the leases: %v", err)
	}
	if d <= store.RemovedFactorWindow {
		t.Fatalf("backdating by %v does not pass the %v window", d, store.RemovedFactorWindow)
	}
}

func countRows(t *testing.T, path, query string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
