package caddymodule

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "export",
		Usage: "--config <file> [--tenant <slug>] --format json|csv [--with-audit] [--password-stdin] -o <file> | decrypt …",
		Short: "Export a tenant's data (members, teams, roles, sessions, factors; optionally the audit trail)",
		Long:  exportLong,
		CobraFunc: func(cmd *cobra.Command) {
			tenantExportCmd(cmd)
			cmd.AddCommand(exportDecryptCmd()) // command_export_decrypt.go
		},
	})
}

// exportCmd is the `export` command with its decrypt subcommand, as Caddy's
// registration above builds it (tests run it directly).
func exportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Export a tenant's data; decrypt a password-protected export", Long: exportLong}
	tenantExportCmd(cmd)
	cmd.AddCommand(exportDecryptCmd())
	return cmd
}

const exportLong = `Writes everything Gatehouse holds about a tenant (workspace) to the file named
by -o: the workspace and its sign-in policy, the tenant's own roles (built-in roles
it changed, and custom ones), teams and who is in them, members, their live
sessions (id, device, IP, times: never a token), and their factor metadata (TOTP
enrolled and when, recovery codes left, passkeys with name, times and backup
flags: never a secret, key or hash). --with-audit adds the audit trail, up to its
newest record when the export starts.

--format json writes one JSON document; --format csv a zip with one CSV file per
kind (RFC 4180, UTF-8, a header row; cells a spreadsheet could run as a formula
are defused). The README ("Tenant export") describes both. Data is read and
written a page at a time, so memory stays flat whatever the size of the tenant.

The file is created with mode 0600, and only when the export is complete (it is
written next to it under a temporary name, then renamed): a failed export leaves
no partial file. The export is recorded in the audit trail (tenant.exported, with
the format and the number of items of each kind).

--password-stdin encrypts the file with the password on the first line of standard
input (AES-256-GCM, the key from PBKDF2-HMAC-SHA256 with 200,000 iterations: the
README's "Password-protected exports" format); "gatehouse export decrypt" opens it.`

func tenantExportCmd(cmd *cobra.Command) {
	var c commonFlags
	var tenant, format, output string
	var withAudit, passwordStdin bool
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		switch format {
		case admin.ExportJSON, admin.ExportCSV:
		default:
			return fmt.Errorf("--format %q: must be json or csv", format)
		}
		if output == "" || output == "-" {
			return errors.New("-o <file> is required (the export is written to a file, created 0600)")
		}
		var password []byte
		if passwordStdin {
			var err error
			if password, err = readPasswordLine(bufio.NewReader(cmd.InOrStdin())); err != nil {
				return err
			}
		}
		return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
			opt := admin.TenantExportOptions{Format: format, WithAudit: withAudit}
			return runTenantExport(cmd.Context(), env.admin, ws, opt, output, password, cmd.ErrOrStderr())
		})
	}
	c.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	fl.StringVar(&format, "format", "", "json (one document) or csv (a zip of one CSV file per kind) (required)")
	fl.BoolVar(&withAudit, "with-audit", false, "include the audit trail")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "encrypt the export with the password on the first line of standard input (AES-256-GCM; gatehouse export decrypt opens it)")
	fl.StringVarP(&output, "output", "o", "", "file to write (required; created 0600)")
}

// runTenantExport exports ws to the file output: written under a temporary name in
// the same directory (0600) and renamed to output only when complete, so a failure
// leaves nothing behind. It reports the counts on errw.
func runTenantExport(ctx context.Context, svc *admin.Service, ws store.Workspace, opt admin.TenantExportOptions, output string, password []byte, errw io.Writer) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("creating the export file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// Every byte of the export goes through out, created here and only here:
	// encrypted when a password was given (the README's format).
	var out io.WriteCloser = nopWriteCloser{tmp}
	if password != nil {
		if out, err = exportcrypt.NewWriter(tmp, password); err != nil {
			return fmt.Errorf("encrypting the export: %w", err)
		}
	}
	sum, err := admin.TenantExport{Service: svc}.Export(ctx, ws, admin.CLI(), opt, out)
	if err != nil {
		return fmt.Errorf("tenant %s: exporting: %w", ws.Slug, flagError(err, map[string]string{"format": "--format"}))
	}
	if err = out.Close(); err != nil {
		return fmt.Errorf("tenant %s: finishing the export: %w", ws.Slug, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing the export file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing the export file: %w", err)
	}
	if err = os.Rename(tmp.Name(), output); err != nil {
		return fmt.Errorf("renaming the export file: %w", err)
	}
	what := opt.Format
	if password != nil {
		what = "password-protected " + what
	}
	if opt.WithAudit {
		what += " with the audit trail"
	}
	fmt.Fprintf(errw, "tenant %s: exported %s to %s: %s\n", ws.Slug, what, output, exportCounts(sum))
	return nil
}

// exportCounts says how many items of each kind an export held, in export order.
func exportCounts(sum admin.TenantExportSummary) string {
	var parts []string
	for _, kind := range admin.ExportKinds {
		if n, ok := sum.Counts[kind]; ok && kind != admin.KindWorkspace && kind != admin.KindSettings {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(kind, "_", " ")))
		}
	}
	return strings.Join(parts, ", ")
}

// nopWriteCloser is a writer whose Close does nothing (the file is closed apart).
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
