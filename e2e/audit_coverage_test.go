package e2e

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit/audittest"
)

// The audit coverage test: every action the code can record is recorded when the flow
// behind it runs. The list of actions comes from the source (audittest.Actions); the
// walk below drives the built gateway through one named step per flow, and the
// tenant's trail must then hold each step's records. Adding an action to the code
// without a step here fails the test by name, before the gateway even starts.

// wantRecord is a record a step must leave in the trail: an action with its outcome,
// by an actor — an e-mail (matched against the record's actor e-mail, or the member's
// id for records that carry only the id) or an actor id such as "cli" or "system".
type wantRecord struct {
	action, outcome, actor string
	tenant                 string // "": the default tenant
}

func ok(action, actor string) wantRecord {
	return wantRecord{action: action, outcome: "success", actor: actor}
}
func failed(action, actor string) wantRecord {
	return wantRecord{action: action, outcome: "failure", actor: actor}
}
func denied(action, actor string) wantRecord {
	return wantRecord{action: action, outcome: "denied", actor: actor}
}

// in is the record in another tenant's trail.
func (r wantRecord) in(tenant string) wantRecord { r.tenant = tenant; return r }

// coverageStep is one flow of the walk and the records it must leave.
type coverageStep struct {
	name    string
	records []wantRecord
	run     func(*coverageWalk)
}

// auditCoverageWalk runs in order; later steps build on earlier ones (the owner made
// at first run, the members the operator adds). A new action: add its flow here.
var auditCoverageWalk = []coverageStep{
	{"first run: the setup link, the owner", []wantRecord{ok("setup.link_issued", "system"), ok("setup.owner_created", covOwner)},
		(*coverageWalk).firstRun},
	{"the operator adds members, creates a tenant and renames the workspace (CLI)",
		[]wantRecord{ok("user.create", "cli"), ok("tenant.create", "cli").in("beta"), ok("tenant.renamed", "cli")},
		(*coverageWalk).operator},
	{"the operator exports the workspace's data (CLI)", []wantRecord{ok("tenant.exported", "cli")},
		(*coverageWalk).tenantExport},
	{"the owner changes the workspace's sign-in policy", []wantRecord{ok("settings.security_changed", covOwner)},
		(*coverageWalk).policy},
	{"a member signs in, mistypes the password, signs out",
		[]wantRecord{ok("login.success", covMember), failed("login.failure", covMember), ok("logout", covMember)},
		(*coverageWalk).signIns},
	{"the member signs in on a new device", []wantRecord{ok("login.anomaly", covMember)},
		(*coverageWalk).newDevice},
	{"wrong passwords lock an account; the owner unlocks it",
		[]wantRecord{denied("account.locked", covLocked), ok("account.unlocked", covOwner)},
		(*coverageWalk).lockout},
	{"a member enrols an authenticator app and steps a session up with it",
		[]wantRecord{ok("mfa.totp_enrol_started", covTOTP), ok("mfa.totp_enrolled", covTOTP), ok("session.stepped_up", covTOTP)},
		(*coverageWalk).totpEnrol},
	{"the second step: a wrong code, then a recovery code",
		[]wantRecord{ok("login.password_verified", covTOTP), failed("login.second_factor_failure", covTOTP), ok("mfa.recovery_code_used", covTOTP)},
		(*coverageWalk).secondStep},
	{"new recovery codes; the password confirmed again",
		[]wantRecord{ok("mfa.recovery_codes_regenerated", covTOTP), ok("session.reauthenticated", covTOTP)},
		(*coverageWalk).recoveryAndReauth},
	{"the owner resets the member's second factors", []wantRecord{ok("mfa.reset", covOwner)},
		(*coverageWalk).factorsReset},
	{"a member removes their authenticator app", []wantRecord{ok("mfa.totp_removed", covTOTPGone)},
		(*coverageWalk).totpRemoved},
	{"the owner restores the member's removed authenticator app", []wantRecord{ok("mfa.factor_restored", covOwner)},
		(*coverageWalk).factorRestored},
	{"sessions: one ended, the others ended, the owner signs the member out everywhere",
		[]wantRecord{ok("session.revoked", covMember), ok("session.revoked_others", covMember), ok("session.revoked_by_admin", covOwner)},
		(*coverageWalk).sessions},
	{"the member objects to location profiling", []wantRecord{ok("user.location_profiling_objection", covMember)},
		(*coverageWalk).privacy},
	{"the member changes the password", []wantRecord{ok("password.changed", covMember)},
		(*coverageWalk).passwordChange},
	{"a forgotten password reset from the mailed link; the owner mails a reset link",
		[]wantRecord{ok("password.reset_requested", covMember), ok("password.reset", covMember), ok("password.reset_sent", covOwner)},
		(*coverageWalk).passwordReset},
	{"tokens: issued, refreshed, a spent one replayed, one revoked, one refreshed after sign-out",
		[]wantRecord{ok("token.issued", covMember), ok("token.refreshed", covMember), failed("token.refresh_reuse", covMember),
			ok("token.revoked", covMember), denied("token.refresh_refused", covMember)},
		(*coverageWalk).tokens},
	{"members: invited, joined, given a role, disabled, enabled",
		[]wantRecord{ok("user.invited", covOwner), ok("user.invite_accepted", covInvitee), ok("user.role_changed", covOwner),
			ok("user.disabled", covOwner), ok("user.enabled", covOwner)},
		(*coverageWalk).members},
	{"members: one deleted (refused at once), then restored",
		[]wantRecord{ok("user.deleted", covOwner), ok("user.restored", covOwner)},
		(*coverageWalk).softDelete},
	{"data-subject requests: data downloaded, erasure refused, processing restricted and lifted",
		[]wantRecord{ok("privacy.data_downloaded", covSubject), ok("privacy.requested", covSubject), ok("privacy.refused", covOwner),
			ok("user.restricted", covSubject), ok("user.restriction_lifted", covOwner), ok("privacy.fulfilled", covOwner)},
		(*coverageWalk).dataSubject},
	{"the member moves to a new e-mail address from the mailed link, and back",
		[]wantRecord{ok("user.email_change_requested", covSubject), ok("user.email_changed", covSubject)},
		(*coverageWalk).emailChange},
	{"roles: one added, deleted, restored",
		[]wantRecord{ok("role.set", covOwner), ok("role.delete", covOwner), ok("role.restore", covOwner)},
		(*coverageWalk).roles},
	{"teams: created, joined, left, deleted, restored",
		[]wantRecord{ok("team.create", covOwner), ok("team.member_add", covOwner), ok("team.member_remove", covOwner), ok("team.delete", covOwner),
			ok("team.restore", covOwner)},
		(*coverageWalk).teams},
	{"the permission review downloaded as CSV", []wantRecord{ok("permission_review.exported", covOwner)},
		(*coverageWalk).reviewExport},
	{"proxied requests: a write recorded, a scanner's denied requests counted (flushed when the gateway restarts next)",
		[]wantRecord{ok("proxy.request", covOwner), denied("policy.denied", "")},
		(*coverageWalk).proxied},
	{"the permission review mailed to the owner (the gateway restarted)", []wantRecord{ok("permission_review.mailed", "system")},
		(*coverageWalk).reviewMail},
	{"the audit trail exported through the API", []wantRecord{ok("audit.export", covOwner)},
		(*coverageWalk).auditExport},
	{"passkeys in Chromium: added, renamed, a cloned authenticator refused, removed",
		[]wantRecord{ok("mfa.passkey_added", covPasskey), ok("mfa.passkey_renamed", covPasskey),
			failed("mfa.passkey_sign_count_regression", covPasskey), ok("mfa.passkey_removed", covPasskey)},
		(*coverageWalk).passkeys},
}

// coverageExceptions maps an action the walk cannot drive to the test that proves it
// is recorded and why the walk cannot ("TestX: needs …"). Keep it tiny.
var coverageExceptions = map[string]string{
	"user.purged": "admin TestPurgeAfterTheWindow: the purge comes 30 days after a delete, " +
		"and the built gateway has no clock a test can move",
	"team.purged": "admin TestDeletedTeamGrantsNothingUntilRestored: the purge comes 30 days after a delete, " +
		"and the built gateway has no clock a test can move",
	"role.purged": "admin TestDeletedRoleGrantsNothingUntilRestored: the purge comes 30 days after a delete, " +
		"and the built gateway has no clock a test can move",
	"audit.expired": "caddymodule TestAuditVerifyAfterExpiry and audit TestExpirerExpiresAndChainVerifies: " +
		"retention is at least 1h and the built gateway has no clock a test can move",
}

// TestAuditCoverage: every action the code can record is recorded. The walk drives the
// built gateway (SQLite) through every flow — the portal's API and pages, the CLI, a
// real browser with a virtual authenticator for passkeys, a restart for the review
// mail — and the trail, exported with `gatehouse audit export --format csv`, must hold
// each step's records with the expected outcome and actor.
func TestAuditCoverage(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module's root %s: %v", root, err)
	}
	emittable, err := audittest.Actions(root)
	if err != nil {
		t.Fatal(err)
	}
	checkWalkCoversSource(t, emittable)

	c := newChrome(t) // first: skips (outside CI) before anything starts when there is no Chromium
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig,
		"rate_limit login 0 0", "rate_limit second_factor 0 0", "refresh_grace 1s", "permission_review off")
	w := &coverageWalk{t: t, g: g, up: up, chrome: c, owner: browser(t), pw: map[string]string{}}
	start := time.Now()
	for i, s := range auditCoverageWalk {
		t.Logf("step %d: %s", i+1, s.name)
		began := time.Now()
		s.run(w)
		t.Logf("step %d done in %v", i+1, time.Since(began).Round(time.Millisecond))
	}
	t.Logf("the walk took %v", time.Since(start).Round(time.Millisecond))
	checkTrail(t, w)
}

// checkWalkCoversSource fails the test unless every action the source can record has a
// step (or an exception) and every action the walk expects exists in the source.
func checkWalkCoversSource(t *testing.T, emittable []audittest.Action) {
	t.Helper()
	walked := map[string]string{} // action → the first step that records it
	for _, s := range auditCoverageWalk {
		for _, r := range s.records {
			if _, seen := walked[r.action]; !seen {
				walked[r.action] = s.name
			}
		}
	}
	known := map[string]bool{}
	for _, a := range emittable {
		known[a.Name] = true
		_, inWalk := walked[a.Name]
		_, excepted := coverageExceptions[a.Name]
		switch {
		case !inWalk && !excepted:
			t.Errorf("action %s can be emitted (%s) but no step of the coverage walk records it: add one to auditCoverageWalk",
				a.Name, strings.Join(a.Where, ", "))
		case inWalk && excepted:
			t.Errorf("action %s is walked by step %q and excepted too: drop the exception", a.Name, walked[a.Name])
		}
	}
	for _, a := range sortedKeys(walked) {
		if !known[a] {
			t.Errorf("step %q expects action %s, which no code emits (renamed or removed?)", walked[a], a)
		}
	}
	for _, a := range sortedKeys(coverageExceptions) {
		if !known[a] {
			t.Errorf("the exception for action %s names an action no code emits", a)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// trailRow is a record as the CSV export has it.
type trailRow struct{ seq, actorID, actorEmail, action, outcome string }

// checkTrail exports each tenant's trail with the CLI and checks every step's records.
func checkTrail(t *testing.T, w *coverageWalk) {
	t.Helper()
	ids := map[string]string{} // member e-mail → id, for records that name the actor by id only
	for _, email := range []string{covOwner, covMember, covLocked, covTOTP, covTOTPGone, covInvitee, covPasskey, covSubject} {
		ids[email] = w.memberID(email)
	}
	trails := map[string][]trailRow{}
	for _, s := range auditCoverageWalk {
		for _, want := range s.records {
			tenant := cmp.Or(want.tenant, "default")
			if _, read := trails[tenant]; !read {
				trails[tenant] = coverageTrail(t, w.g, tenant)
			}
			var seen []string
			found := false
			for _, r := range trails[tenant] {
				if r.action != want.action {
					continue
				}
				by := r.actorID == want.actor || r.actorEmail == want.actor || (ids[want.actor] != "" && r.actorID == ids[want.actor])
				if by && r.outcome == want.outcome {
					found = true
					break
				}
				seen = append(seen, fmt.Sprintf("#%s %s by %q/%q", r.seq, r.outcome, r.actorID, r.actorEmail))
			}
			switch {
			case found:
			case len(seen) == 0:
				t.Errorf("step %q: action %s can be emitted but the trail of tenant %s has no record of it", s.name, want.action, tenant)
			default:
				t.Errorf("step %q: the trail of tenant %s has no %s record of %s by %s; its records of %s: %s",
					s.name, tenant, want.outcome, want.action, want.actor, want.action, strings.Join(seen, ", "))
			}
		}
	}
}

// coverageTrail exports a tenant's whole trail as CSV with the CLI (the export checks
// the chain: it must be intact) and reads it.
func coverageTrail(t *testing.T, g *gateway, tenant string) []trailRow {
	t.Helper()
	file := filepath.Join(t.TempDir(), tenant+".csv")
	out, err := g.cli("", "audit", "export", "--tenant", tenant, "--format", "csv", "-o", file)
	if err != nil || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit export of tenant %s: %v\n%s", tenant, err, out)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("the CSV export of tenant %s: %v, %d rows", tenant, err, len(rows))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"seq", "actor_id", "actor_email", "action", "outcome"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("the CSV export has no column %s: %q", name, rows[0])
		}
	}
	trail := make([]trailRow, 0, len(rows)-1)
	for _, r := range rows[1:] {
		trail = append(trail, trailRow{seq: r[col["seq"]], actorID: r[col["actor_id"]], actorEmail: r[col["actor_email"]],
			action: r[col["action"]], outcome: r[col["outcome"]]})
	}
	t.Logf("tenant %s: %d audit records", tenant, len(trail))
	return trail
}
