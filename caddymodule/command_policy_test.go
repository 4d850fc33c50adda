package caddymodule

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func TestPolicyCommandRegistered(t *testing.T) {
	c, ok := caddycmd.Commands()["policy"]
	if !ok {
		t.Fatal("the policy command is not registered")
	}
	if !gatehouseCommands(caddycmd.Commands())["policy"] {
		t.Error("policy is not listed among the Gatehouse commands")
	}
	root := &cobra.Command{Use: "policy"}
	c.CobraFunc(root)
	if sub, _, err := root.Find([]string{"check"}); err != nil || sub.Name() != "check" {
		t.Errorf("policy check: %v, %v", sub, err)
	}
}

func TestPolicyCheckCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := write("clean.yaml", "rules:\n  - path: /\n    access: public\n  - path: /api/deals\n    methods: [GET]\n    require: deals:read\n    scope: tenant\n")
	bad := write("bad.yaml", "rules:\n  - path: /a\n    access: pubic\n  - path: /b\n    require: deals\n    colour: red\n")
	shadow := write("shadow.yaml", "rules:\n  - path: /*\n    access: signed_in\n  - path: /a\n    access: public\n")
	crm := filepath.Join("..", "policies", "crm.yaml")

	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		want    []string // lines of the output, in order
		wantErr string   // "" for success
	}{
		{"clean", []string{clean}, "", []string{clean + ": OK (2 rules)"}, ""},
		{"example", []string{crm}, "", []string{crm + ": OK ("}, ""},
		{"errors", []string{bad}, "", []string{
			bad + `:3:13: unknown access "pubic"`,
			bad + `:5:14: require: permission "deals"`,
			bad + `:6:5: unknown key "colour"`,
			bad + ": 3 errors",
		}, "policy check failed for 1 of 1 file(s)"},
		{"warning", []string{shadow}, "", []string{
			shadow + ":4:5: warning: unreachable: the rule on line 2 (/*)",
			shadow + ": OK (2 rules, 1 warning)",
		}, ""},
		{"strict", []string{"--strict", shadow}, "", []string{shadow + ": 2 rules, 1 warning (--strict)"}, "failed for 1 of 1"},
		{"several", []string{clean, bad}, "", []string{clean + ": OK", bad + ": 3 errors"}, "failed for 1 of 2"},
		{"stdin", []string{"-"}, "rules:\n  - path: /x\n    access: deny\n", []string{"<stdin>: OK (1 rule)"}, ""},
		{"stdin error", []string{"-"}, "rules: [", []string{"<stdin>:1: YAML:"}, "failed"},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, "", nil, "reading policy file"},
		{"no file", nil, "", nil, "requires at least 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := policyCheckCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetIn(strings.NewReader(tc.stdin))
			cmd.SetArgs(tc.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v\n%s", err, out.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v; want one containing %q\n%s", err, tc.wantErr, out.String())
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			i := 0
			for _, want := range tc.want {
				for i < len(lines) && !strings.HasPrefix(lines[i], want) {
					i++
				}
				if i == len(lines) {
					t.Fatalf("output lacks a line starting %q (in order):\n%s", want, out.String())
				}
			}
		})
	}
}
