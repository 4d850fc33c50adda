package caddymodule

import (
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// The command line of the gatehouse binary.
//
// Caddy builds its root cobra command inside caddycmd.Main and exposes only a few hooks:
// caddy.CustomBinaryName, caddy.CustomLongDescription and caddycmd.RegisterCommand. The
// rest of what Gatehouse needs (its commands listed first, its version, suggestions for
// mistyped subcommands) has to be done on the root command itself. UseGatehouseCLI gets
// hold of it with two registrations, applied in order while Main builds the root:
//
//  1. an anchor command, which only remembers its *cobra.Command;
//  2. a command whose CobraFunc runs after the anchor has been added to the root, so
//     anchor.Parent() is the root with every command registered so far (all of them:
//     package inits run before main). It removes the anchor, brands the root, and
//     becomes the "version" command in place of Caddy's.
//
// The branding is opt-in, called from cmd/gatehouse/main.go, rather than keyed on
// os.Args[0] or done in init: a binary built with `xcaddy build --with
// github.com/gatehouse-dev/gatehouse` is the user's Caddy and keeps Caddy's name, help
// and version (it still has the tenant and user commands), and renaming the gatehouse
// binary does not change its behaviour.

const (
	cliBinaryName = "gatehouse"

	groupGatehouse = "gatehouse"
	groupCaddy     = "caddy"

	// Names in caddycmd's registry for the two registrations above; nobody types them.
	anchorCommandName  = "gatehouse-cli-anchor"
	versionCommandName = "gatehouse-version"
)

const cliDescription = `Gatehouse is an authentication gateway: sign-in, second factors, passkeys,
sessions and route policies in front of the applications Caddy proxies to.

The gatehouse binary is Caddy with the Gatehouse app and handler built in: run
the gateway with 'gatehouse run --config Caddyfile', and manage tenants and
users with the Gatehouse commands, which read the same config to find the store.
Caddy's own commands work as they do in caddy.`

const cliExamples = `  $ gatehouse run --config Caddyfile
  $ gatehouse tenant create --config Caddyfile --slug acme --name "Acme Inc"
  $ gatehouse user add --config Caddyfile --tenant acme --email ada@acme.example --role admin --password-stdin
  $ gatehouse version`

const cliHelpFooter = `
Gatehouse documentation: https://github.com/gatehouse-dev/gatehouse
Caddy's commands: https://caddyserver.com/docs/command-line
`

var useCLIOnce sync.Once

// UseGatehouseCLI makes the command line that caddycmd.Main builds Gatehouse's: the
// binary is called gatehouse, help lists Gatehouse's commands before Caddy's, `version`
// and `--version` print Gatehouse's version with Caddy's inside, and a mistyped command
// or subcommand fails with a suggestion. Call it from main before caddycmd.Main; it is
// meant for the gatehouse binary only (see the comment at the top of this file).
func UseGatehouseCLI() {
	useCLIOnce.Do(func() {
		caddy.CustomBinaryName = cliBinaryName
		caddy.CustomLongDescription = cliDescription

		var anchor *cobra.Command
		caddycmd.RegisterCommand(caddycmd.Command{
			Name:  anchorCommandName,
			Short: "Locates the root command (internal)",
			CobraFunc: func(cmd *cobra.Command) {
				anchor = cmd
				cmd.Hidden = true
				cmd.RunE = func(*cobra.Command, []string) error {
					return fmt.Errorf("%s is internal", anchorCommandName)
				}
			},
		})
		caddycmd.RegisterCommand(caddycmd.Command{
			Name:  versionCommandName,
			Short: "Prints the Gatehouse and Caddy versions",
			CobraFunc: func(cmd *cobra.Command) {
				setupVersionCommand(cmd)
				var root *cobra.Command
				if anchor != nil {
					root = anchor.Parent()
				}
				if root == nil {
					// Caddy no longer adds commands in registration order: keep its CLI
					// (with the binary name) rather than guess.
					cmd.Hidden = true
					return
				}
				root.RemoveCommand(anchor)
				brandRoot(root, cmd)
			},
		})
	})
}

// setupVersionCommand turns cmd into Gatehouse's `version` command.
func setupVersionCommand(cmd *cobra.Command) {
	cmd.Use = "version"
	cmd.Long = `Prints the version of Gatehouse and of the Caddy it is built on, e.g.
"gatehouse v0.3.0 (caddy v2.11.9)". 'gatehouse build-info' prints every module.`
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine())
		return err
	}
}

// brandRoot makes Caddy's root command Gatehouse's; version is the Gatehouse version
// command, which is added to root after brandRoot returns.
func brandRoot(root *cobra.Command, version *cobra.Command) {
	root.Use = cliBinaryName
	root.Long = cliDescription
	root.Example = cliExamples
	root.Version = versionLine()
	root.SetHelpTemplate((&cobra.Command{}).HelpTemplate() + cliHelpFooter)

	for _, c := range root.Commands() {
		switch c.Name() {
		case "version":
			root.RemoveCommand(c)
		case "upgrade", "add-package", "remove-package":
			// These replace the running binary with a Caddy build downloaded from
			// caddyserver.com — which would not contain Gatehouse. They stay listed (so
			// nobody wonders where they went) but explain instead of acting.
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				return fmt.Errorf("%s would replace the gatehouse binary with a download that does not contain Gatehouse; "+
					"rebuild it instead (make build, or xcaddy build --with github.com/gatehouse-dev/gatehouse)", cmd.Name())
			}
			c.Run = nil
			c.Short += " (not in the gatehouse binary: rebuild instead)"
		}
	}

	// Gatehouse's commands first, then Caddy's (and any other plugin's); cobra prints
	// the groups in the order they are added.
	root.AddGroup(
		&cobra.Group{ID: groupGatehouse, Title: "Gatehouse commands:"},
		&cobra.Group{ID: groupCaddy, Title: "Caddy commands:"},
	)
	own := gatehouseCommands(caddycmd.Commands())
	version.GroupID = groupGatehouse
	for _, c := range root.Commands() {
		if own[c.Name()] {
			c.GroupID = groupGatehouse
		} else {
			c.GroupID = groupCaddy
		}
	}
	root.SetHelpCommandGroupID(groupCaddy)
	root.SetCompletionCommandGroupID(groupCaddy)

	root.SuggestionsMinimumDistance = 2
	for _, c := range root.Commands() {
		rejectUnknownSubcommands(c)
	}
}

// rejectUnknownSubcommands makes every command that only groups subcommands (such as
// `user`) fail on an unknown subcommand, with a suggestion. Cobra checks unknown
// commands only at the root: below it, `gatehouse user lst` finds `user`, takes "lst"
// for an argument, and because `user` has no Run it prints help and exits 0.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	if !cmd.HasSubCommands() {
		return
	}
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if cmd.Runnable() {
		return
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommandError(cmd, args[0])
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	cmd.DisableFlagsInUseLine = true // now that it is runnable, cobra would add "[flags]"
	// `gatehouse user lst --config f` fails on --config (a flag of the subcommands, not
	// of `user`) before Args runs; the mistyped command is the more useful message.
	// Subcommands inherit this function, hence the check that it is cmd's own.
	group := cmd
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c == group {
			if args := c.Flags().Args(); len(args) > 0 {
				return unknownCommandError(c, args[0])
			}
		}
		return err
	})
}

// unknownCommandError is cobra's message for an unknown command at the root, with
// suggestions, for a command below it.
func unknownCommandError(cmd *cobra.Command, name string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		// cobra sets its default (2) lazily, and only on the command that reports
		// unknown commands itself: the root.
		cmd.SuggestionsMinimumDistance = 2
	}
	return fmt.Errorf("unknown command %q for %q%s\nRun '%s --help' for usage.",
		name, cmd.CommandPath(), suggestionText(cmd.SuggestionsFor(name)), cmd.CommandPath())
}

// suggestionText formats suggestions as cobra does at the root.
func suggestionText(suggestions []string) string {
	if len(suggestions) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("\n\nDid you mean this?\n")
	for _, s := range suggestions {
		fmt.Fprintf(&sb, "\t%s\n", s)
	}
	return sb.String()
}

// gatehouseCommands returns the names of the registered commands that Gatehouse
// provides: those whose implementing function lives in this module. Deciding by
// origin, not by a list, keeps new commands (policy, audit, backup, ...) in the
// right group without touching this file.
func gatehouseCommands(cmds map[string]caddycmd.Command) map[string]bool {
	module := gatehouseModulePath()
	own := make(map[string]bool)
	for name, c := range cmds {
		var fn any = c.Func
		if c.CobraFunc != nil {
			fn = c.CobraFunc
		}
		if funcInModule(fn, module) {
			own[name] = true
		}
	}
	return own
}

// cliMarker exists so this package can learn its import path.
type cliMarker struct{}

// gatehouseModulePath is the module path, derived from this package's import path.
func gatehouseModulePath() string {
	return strings.TrimSuffix(reflect.TypeFor[cliMarker]().PkgPath(), "/caddymodule")
}

// funcInModule reports whether fn (a func value) is defined in module or one of its
// packages, going by the symbol name the runtime reports for it, e.g.
// "github.com/gatehouse-dev/gatehouse/caddymodule.init.func1".
func funcInModule(fn any, module string) bool {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return false
	}
	f := runtime.FuncForPC(v.Pointer())
	if f == nil {
		return false
	}
	name := f.Name()
	return strings.HasPrefix(name, module+"/") || strings.HasPrefix(name, module+".")
}

// versionLine is what `gatehouse version` and `gatehouse --version` print.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	caddyVersion, _ := caddy.Version()
	return formatVersion(gatehouseVersion(bi), caddyVersion)
}

// formatVersion renders e.g. "gatehouse v0.3.0 (caddy v2.11.9)".
func formatVersion(gatehouse, caddyVersion string) string {
	return fmt.Sprintf("%s %s (caddy %s)", cliBinaryName, gatehouse, caddyVersion)
}

// gatehouseVersion is the main module's version from the build info: a release tag
// (v0.3.0) or the pseudo-version Go derives from the VCS (v0.0.0-2026…-abcdef123456,
// "+dirty" for a modified tree). Without one ("(devel)", e.g. built with
// -buildvcs=false or outside a checkout) it is "dev", followed by the short VCS
// revision and "+dirty" when the build info has them.
func gatehouseVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	v := "dev"
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		v += "-" + revision
		if modified {
			v += "+dirty"
		}
	}
	return v
}
