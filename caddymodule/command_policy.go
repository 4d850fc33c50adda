package caddymodule

import (
	"fmt"
	"io"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// Route policies from the command line. "check" reads only the files it is given (no
// --config, no store), so a policy can be checked in CI before it is deployed;
// "explain" (command_explain.go) asks a site's compiled policy about one request.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "policy",
		Usage: "check <file>... | explain --config <file> --host <host> METHOD PATH",
		Short: "Check route-policy files and explain decisions",
		CobraFunc: func(cmd *cobra.Command) {
			for _, sub := range policySubcommands {
				cmd.AddCommand(sub())
			}
		},
	})
}

// policySubcommands are the subcommands of "gatehouse policy". Another file may add
// to it in its init (the command tree is built later, in caddycmd.Main).
var policySubcommands = []func() *cobra.Command{policyCheckCmd}

func policyCheckCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "check <file>...",
		Short: "Report every error of route-policy files, with its line",
		Long: `Reads route-policy files (the YAML of policy_file: rules with path, methods,
host, access or require, scope, owner_param, team_param, mfa) and reports every
problem as FILE:LINE:COL: message, all at once: unknown keys, wrong types, bad
permissions and scopes, parameters the path lacks, bad patterns, methods and hosts.
It also warns about rules that can never match because an earlier rule matches
every request they match, and settings that have no effect.

A file without errors prints "FILE: OK (N rules)". The exit status is 1 when any
file has an error (with --strict, a warning too). "-" reads standard input.`,
		Example: `  $ gatehouse policy check policies/crm.yaml
  $ gatehouse policy check --strict /etc/gatehouse/*.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			failed := 0
			for _, file := range files {
				ok, err := checkPolicyFile(cmd.OutOrStdout(), cmd.InOrStdin(), file, strict)
				if err != nil {
					return err
				}
				if !ok {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("policy check failed for %d of %d file(s)", failed, len(files))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too (unreachable rules, settings without effect)")
	return cmd
}

// checkPolicyFile prints the findings of one file and reports whether it passes.
func checkPolicyFile(out io.Writer, stdin io.Reader, file string, strict bool) (bool, error) {
	var data []byte
	var err error
	name := file
	if file == "-" {
		name = "<stdin>"
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return false, fmt.Errorf("reading policy file: %w", err)
	}
	errs, warnings := 0, 0
	for _, f := range policy.CheckFile(name, data) {
		if f.Warning {
			warnings++
		} else {
			errs++
		}
		fmt.Fprintln(out, f.Format(name))
	}
	if errs > 0 {
		fmt.Fprintf(out, "%s: %s\n", name, policyPlural(errs, "error"))
		return false, nil
	}
	rules, err := policy.ParseFile(name, data)
	if err != nil { // CheckFile found no error, so this does not happen
		return false, err
	}
	summary := policyPlural(len(rules), "rule")
	if warnings > 0 {
		summary += ", " + policyPlural(warnings, "warning")
	}
	if strict && warnings > 0 {
		fmt.Fprintf(out, "%s: %s (--strict)\n", name, summary)
		return false, nil
	}
	fmt.Fprintf(out, "%s: OK (%s)\n", name, summary)
	return true, nil
}

func policyPlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
