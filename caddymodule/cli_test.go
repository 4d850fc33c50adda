package caddymodule

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func TestGatehouseVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "unknown"},
		{"release", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, "v0.3.0"},
		{"pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260102150405-0123456789ab+dirty"}},
			"v0.0.0-20260102150405-0123456789ab+dirty"},
		{"devel without vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"empty version", &debug.BuildInfo{}, "dev"},
		{"devel with revision", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs", "git", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "false")}, "dev-0123456789ab"},
		{"devel, modified", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true")}, "dev-0123456789ab+dirty"},
		{"short revision", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "abc")}, "dev-abc"},
	} {
		if got := gatehouseVersion(tc.bi); got != tc.want {
			t.Errorf("%s: gatehouseVersion = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got, want := formatVersion("v0.3.0", "v2.11.9"), "gatehouse v0.3.0 (caddy v2.11.9)"; got != want {
		t.Errorf("formatVersion = %q, want %q", got, want)
	}
	if line := versionLine(); !strings.HasPrefix(line, "gatehouse ") || !strings.Contains(line, "(caddy ") {
		t.Errorf("versionLine = %q", line)
	}
}

func TestGatehouseCommandsByOrigin(t *testing.T) {
	own := gatehouseCommands(caddycmd.Commands())
	for _, name := range []string{"tenant", "user"} {
		if !own[name] {
			t.Errorf("%s is not recognised as a Gatehouse command (got %v)", name, own)
		}
	}
	for _, name := range []string{"run", "version", "adapt", "completion"} {
		if own[name] {
			t.Errorf("Caddy's %s taken for a Gatehouse command", name)
		}
	}
	if own := gatehouseCommands(map[string]caddycmd.Command{
		"mine":   {CobraFunc: func(*cobra.Command) {}},
		"caddys": {Func: caddycmd.Commands()["run"].Func, CobraFunc: caddycmd.Commands()["run"].CobraFunc},
		"none":   {},
	}); !own["mine"] || own["caddys"] || own["none"] {
		t.Errorf("classification by origin: %v", own)
	}
	if m := gatehouseModulePath(); m != "github.com/gatehouse-dev/gatehouse" {
		t.Errorf("module path %q", m)
	}
}

// testTree is a root like Caddy's with Gatehouse's and Caddy's commands, branded.
func testTree(t *testing.T) (*cobra.Command, *bytes.Buffer) {
	t.Helper()
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	leaf := func(use string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: "does " + use, RunE: func(*cobra.Command, []string) error { return nil }}
		c.Flags().String("config", "", "config file")
		return c
	}
	user := &cobra.Command{Use: "user add|list --config <file> ...", Short: "Manage users"}
	user.AddCommand(leaf("add --config <file> --email <e-mail>"), leaf("list --config <file>"), leaf("reset-2fa"))
	tenant := &cobra.Command{Use: "tenant create|list", Short: "Manage tenants"}
	tenant.AddCommand(leaf("create"), leaf("list"))
	root.AddCommand(leaf("run"), leaf("adapt"), &cobra.Command{Use: "version", Short: "Caddy's version", Run: func(*cobra.Command, []string) {}}, user, tenant)
	version := &cobra.Command{}
	setupVersionCommand(version)
	brandRoot(root, version)
	root.AddCommand(version) // as caddycmd does after the CobraFunc returns
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	return root, &out
}

func TestBrandedHelpLeadsWithGatehouse(t *testing.T) {
	root, out := testTree(t)
	root.SetArgs([]string{"help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	gh, cd := strings.Index(help, "Gatehouse commands:"), strings.Index(help, "Caddy commands:")
	if gh < 0 || cd < gh {
		t.Fatalf("help does not list Gatehouse's commands before Caddy's:\n%s", help)
	}
	gatehouseSection := help[gh:cd]
	for _, name := range []string{"tenant", "user", "version"} {
		if !strings.Contains(gatehouseSection, "\n  "+name+" ") {
			t.Errorf("%s is not among the Gatehouse commands:\n%s", name, gatehouseSection)
		}
	}
	if strings.Contains(gatehouseSection, "run") || !strings.Contains(help[cd:], "\n  run ") {
		t.Errorf("run is not a Caddy command:\n%s", help)
	}
	if strings.Count(help, "\n  version ") != 1 {
		t.Errorf("Caddy's version command was not replaced:\n%s", help)
	}
	if !strings.Contains(help, "gatehouse [command]") || strings.Contains(help, "caddy [command]") {
		t.Errorf("usage does not name gatehouse:\n%s", help)
	}
}

func TestUnknownSubcommandSuggests(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string // "" means success
	}{
		{[]string{"usr", "list"}, "Did you mean this?\n\tuser\n"},
		{[]string{"tenants"}, "Did you mean this?\n\ttenant\n"},
		{[]string{"user", "lst"}, `unknown command "lst" for "gatehouse user"` + "\n\nDid you mean this?\n\tlist\n"},
		{[]string{"user", "reset"}, "\treset-2fa\n"},
		{[]string{"user", "lst", "--config", "x"}, `unknown command "lst" for "gatehouse user"`},
		{[]string{"tenant", "xyzzy"}, `unknown command "xyzzy" for "gatehouse tenant"` + "\nRun 'gatehouse tenant --help' for usage."},
		{[]string{"user", "add", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"user", "add", "--config", "x"}, ""},
		{[]string{"user"}, ""}, // help, as before
	} {
		root, _ := testTree(t)
		root.SetArgs(tc.args)
		err := root.Execute()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("%v: no error", tc.args)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("%v: error %q does not contain %q", tc.args, err, tc.wantErr)
		}
	}
}

func TestLoadConfigQuiet(t *testing.T) {
	dir := t.TempDir()
	caddyfile := `{
	admin off
	gatehouse {
		store sqlite://` + filepath.Join(dir, "gh.db") + `
	}
}

http://127.0.0.1:9999 {
	gatehouse
	respond "hi"
}
`
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, name := range []string{"Caddyfile", "Caddyfile.prod", "site.caddyfile"} {
		var warnings bytes.Buffer
		cfg, err := loadConfigQuietTo(&warnings, write(name, caddyfile), "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var doc struct {
			Apps struct {
				Gatehouse struct {
					Store string `json:"store"`
				} `json:"gatehouse"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(cfg, &doc); err != nil || !strings.HasSuffix(doc.Apps.Gatehouse.Store, "gh.db") {
			t.Fatalf("%s: adapted config %s (%v)", name, cfg, err)
		}
		if warnings.Len() != 0 {
			t.Errorf("%s: unexpected warnings %q", name, warnings.String())
		}
	}

	// Named adapter for any file name; `caddy fmt` advice is not printed (a command
	// that only reads the config has nothing to do with it); other warnings are one
	// line each.
	var warnings bytes.Buffer
	unformatted := write("gateway.conf", strings.ReplaceAll(caddyfile, "\t", "  "))
	if _, err := loadConfigQuietTo(&warnings, unformatted, "caddyfile"); err != nil {
		t.Fatal(err)
	}
	if w := warnings.String(); w != "" {
		t.Errorf("formatting advice printed: %q", w)
	}
	if w := formatAdapterWarning(unformatted, caddyconfig.Warning{Line: 3, Directive: "header", Message: "something odd"}); w != "warning: "+unformatted+":3: header: something odd" {
		t.Errorf("warning line %q", w)
	}

	// JSON passes through; a Caddyfile without an adapter is refused with a hint.
	jsonCfg := `{"apps":{"gatehouse":{"store":"sqlite://x.db"}}}`
	if cfg, err := loadConfigQuietTo(&warnings, write("caddyfile.json", jsonCfg), ""); err != nil || string(cfg) != jsonCfg {
		t.Errorf("JSON config: %s, %v", cfg, err)
	}
	if _, err := loadConfigQuietTo(&warnings, write("gateway.txt", caddyfile), ""); err == nil || !strings.Contains(err.Error(), "--adapter") {
		t.Errorf("Caddyfile without adapter: %v", err)
	}
	if _, err := loadConfigQuietTo(&warnings, unformatted, "nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown adapter: %v", err)
	}
	if _, err := loadConfigQuietTo(&warnings, filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := loadConfigQuiet("", ""); err == nil {
		t.Error("empty file name accepted")
	}
	if _, err := loadConfigQuietTo(&warnings, write("Caddyfile.bad", "{\n\tgatehouse {\n\t\tbogus 1\n\t}\n}\n"), ""); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("bad Caddyfile: %v", err)
	}
}
