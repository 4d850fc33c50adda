package caddymodule

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "export",
		Usage: "decrypt [--password-stdin] [-i <file>] [-o <file>]",
		Short: "Export tenant data; decrypt a password-protected export",
		CobraFunc: func(cmd *cobra.Command) {
			// Caddy creates the command; it takes over what exportCmd defines.
			e := exportCmd()
			cmd.Long, cmd.Args, cmd.RunE = e.Long, e.Args, e.RunE
			cmd.Flags().AddFlagSet(e.Flags())
			cmd.AddCommand(e.Commands()...)
		},
	})
}

// exportCmd is the `export` command and its subcommands.
func exportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Export tenant data; decrypt a password-protected export"}
	cmd.AddCommand(exportDecryptCmd()) // command_export_decrypt.go
	return cmd
}
