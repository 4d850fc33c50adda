package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runBinary runs the gatehouse binary with a private home and returns stdout, stderr
// and the exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home, "HOME="+home)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running gatehouse %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// usageLines returns the lines of the "Usage:" and "Examples:" sections of a help text.
func usageLines(help string) []string {
	var lines []string
	in := false
	for line := range strings.SplitSeq(help, "\n") {
		switch {
		case line == "Usage:" || line == "Examples:":
			in = true
		case strings.TrimSpace(line) == "":
			in = false
		case in:
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	return lines
}

func TestCLIHelpLeadsWithGatehouse(t *testing.T) {
	for _, args := range [][]string{{"help"}, {}, {"--help"}} {
		out, errOut, code := runBinary(t, args...)
		if code != 0 {
			t.Fatalf("gatehouse %v: exit %d\n%s%s", args, code, out, errOut)
		}
		gh, cd := strings.Index(out, "\nGatehouse commands:\n"), strings.Index(out, "\nCaddy commands:\n")
		if gh < 0 || cd < gh {
			t.Fatalf("gatehouse %v does not list Gatehouse's commands before Caddy's:\n%s", args, out)
		}
		if !strings.HasPrefix(out, "Gatehouse ") {
			t.Errorf("gatehouse %v does not start with Gatehouse's description:\n%s", args, out)
		}
		for _, name := range []string{"tenant", "user", "version"} {
			if !strings.Contains(out[gh:cd], "\n  "+name+" ") {
				t.Errorf("gatehouse %v: %s is not among the Gatehouse commands:\n%s", args, name, out[gh:cd])
			}
		}
		for _, name := range []string{"run", "adapt", "reload", "validate"} {
			if !strings.Contains(out[cd:], "\n  "+name+" ") {
				t.Errorf("gatehouse %v: Caddy's %s is missing:\n%s", args, name, out[cd:])
			}
		}
		for _, line := range usageLines(out) {
			if !strings.HasPrefix(strings.TrimPrefix(line, "$ "), "gatehouse") {
				t.Errorf("gatehouse %v: usage line %q", args, line)
			}
		}
	}

	for _, args := range [][]string{
		{"user", "--help"}, {"user", "add", "--help"}, {"user", "list", "--help"},
		{"tenant", "--help"}, {"tenant", "create", "--help"}, {"help", "tenant", "list"},
		{"run", "--help"},
	} {
		out, errOut, code := runBinary(t, args...)
		if code != 0 {
			t.Fatalf("gatehouse %v: exit %d\n%s%s", args, code, out, errOut)
		}
		lines := usageLines(out)
		if len(lines) == 0 {
			t.Errorf("gatehouse %v: no usage section:\n%s", args, out)
		}
		for _, line := range lines {
			if !strings.HasPrefix(line, "gatehouse ") {
				t.Errorf("gatehouse %v: usage line %q does not start with gatehouse", args, line)
			}
		}
		if args[0] != "run" && strings.Contains(out, "caddy ") {
			t.Errorf("gatehouse %v mentions caddy:\n%s", args, out)
		}
	}
}

var versionRE = regexp.MustCompile(`^gatehouse (\S+) \(caddy (v2\.\d+\.\d+\S*)\)\n$`)

func TestCLIVersion(t *testing.T) {
	out, errOut, code := runBinary(t, "version")
	if code != 0 {
		t.Fatalf("version: exit %d\n%s%s", code, out, errOut)
	}
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("version printed %q, want gatehouse <version> (caddy <version>)", out)
	}
	if m[1] == "unknown" || m[1] == "(devel)" {
		t.Errorf("gatehouse version %q", m[1])
	}
	flag, _, code := runBinary(t, "--version")
	if code != 0 || flag != out {
		t.Errorf("--version printed %q (exit %d), version printed %q", flag, code, out)
	}
}

func TestCLIUnknownCommandSuggests(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		suggest string
	}{
		{[]string{"usr", "list"}, "user"},
		{[]string{"tenants"}, "tenant"},
		{[]string{"user", "lst"}, "list"},
		{[]string{"tenant", "craete", "--config", "Caddyfile"}, "create"},
		{[]string{"user", "reset"}, "reset-2fa"},
	} {
		out, errOut, code := runBinary(t, tc.args...)
		if code == 0 {
			t.Errorf("gatehouse %v exited 0:\n%s%s", tc.args, out, errOut)
			continue
		}
		if !strings.Contains(errOut, "unknown command") || !strings.Contains(errOut, "Did you mean this?\n\t"+tc.suggest+"\n") {
			t.Errorf("gatehouse %v does not suggest %s:\n%s", tc.args, tc.suggest, errOut)
		}
	}
}

// TestCLIConfigLoadingIsQuiet: a management command prints its result, not Caddy's
// start-up log lines about loading the config. This needs command.go to load the
// config with loadConfigQuiet instead of caddycmd.LoadConfig.
func TestCLIConfigLoadingIsQuiet(t *testing.T) {
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(`{
	admin off
	gatehouse {
		store sqlite://`+filepath.Join(dir, "gh.db")+`
		master_key_file `+filepath.Join(dir, "master.key")+`
	}
}

http://127.0.0.1:9 {
	gatehouse
	respond "hi"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runBinary(t, "tenant", "list", "--config", caddyfile)
	if code != 0 {
		t.Fatalf("tenant list: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "default") {
		t.Errorf("tenant list does not show the default tenant:\n%s", out)
	}
	var noise []string
	for _, s := range []string{"using config from file", "adapted config to JSON", `"level":"info"`} {
		if strings.Contains(out+errOut, s) {
			noise = append(noise, s)
		}
	}
	if len(noise) > 0 {
		t.Errorf("tenant list printed config-loading log lines %q (command.go must load the config with loadConfigQuiet):\nstdout:\n%s\nstderr:\n%s", noise, out, errOut)
	}
}
