package audittest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// names are the action names of a listing.
func names(as []Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}

// writeTree writes files (slash path → content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		path := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestActionsRules: what counts as an action the code can record, and what does not.
// The files are only parsed, never compiled, so they may name packages that do not
// exist here.
func TestActionsRules(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.mod": "module example.test/m\n",
		"internal/audit/actions.go": `package audit
const (
	ActionLogin = "login.success"
	ActionJoined = "user." + "joined"
	ActionAlias = ActionLogin
	ActionsPerPage = 50
	notAnAction = "not.an.action"
)
func own() { _ = Event("audit.own", "success") }
`,
		"internal/admin/export.go": `package admin
import "example.test/m/internal/audit"
const ActionSame = audit.ActionLogin
func f(action string) {
	_ = audit.Event("audit.export", "success", audit.CLI, audit.Origin{})
	_ = audit.Event(action, "success", audit.CLI, audit.Origin{})
	_ = store.AuditRecord{Action: "record.literal", Outcome: "success"}
	_ = policy.Permission{Resource: "*", Action: "*"}
	rec.Action = "assigned.literal"
	const ActionLocal = "local.const"
}
`,
		"internal/admin/export_test.go":       "package admin\nconst ActionInTest = \"test.only\"\n",
		"internal/storetest/fixture.go":       "package storetest\nvar r = store.AuditRecord{Action: \"proxy.request\"}\n",
		"internal/testenv/env.go":             "package testenv\nconst ActionFixture = \"fixture.only\"\n",
		"internal/admin/testdata/x.go":        "package x\nconst ActionData = \"data.only\"\n",
		"internal/attestation/attestation.go": "package attestation\nconst ActionAttested = \"device.attested\"\n",
	})
	got, err := Actions(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"assigned.literal", "audit.export", "audit.own", "device.attested", "local.const", "login.success", "record.literal", "user.joined"}
	if !slices.Equal(names(got), want) {
		t.Fatalf("actions %q, want %q", names(got), want)
	}
	i := slices.IndexFunc(got, func(a Action) bool { return a.Name == "login.success" })
	if where := got[i].Where; !slices.Equal(where, []string{"internal/audit/actions.go:3"}) {
		t.Errorf("login.success named at %q, want only its definition (aliases add nothing)", where)
	}

	// A constant whose value the listing cannot read is an error naming it, not an
	// action silently left out.
	bad := writeTree(t, map[string]string{"x/x.go": "package x\nconst ActionHidden = prefix + \".hidden\"\n"})
	if _, err := Actions(bad); err == nil || !strings.Contains(err.Error(), "x/x.go:2: cannot read the value of const ActionHidden") {
		t.Fatalf("unreadable constant: %v", err)
	}
}

// TestActionsOfThisModule: the listing of Gatehouse itself finds actions defined in
// several packages and none of the made-up ones the store's conformance fixtures write.
func TestActionsOfThisModule(t *testing.T) {
	got, err := Actions(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	all := names(got)
	for _, want := range []string{"login.success", "audit.export", "session.revoked", "token.refresh_reuse", "password.reset", "team.create", "proxy.request", "policy.denied", "audit.expired"} {
		if !slices.Contains(all, want) {
			t.Errorf("%s missing from the listing %q", want, all)
		}
	}
	for _, fixture := range []string{"role.changed"} { // internal/storetest's fixtures (proxy.request is real since)
		if slices.Contains(all, fixture) {
			t.Errorf("the listing has %s, which only a test fixture writes", fixture)
		}
	}
	if len(got) < 40 {
		t.Errorf("only %d actions listed: is the walk broken?", len(got))
	}
}
