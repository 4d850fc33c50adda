package caddymodule

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "audit",
		Usage: "verify|export --config <file> [--tenant <slug>] ...",
		Short: "Check or export Gatehouse's audit trail",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(auditVerifyCmd())
			cmd.AddCommand(auditExportCmd())
			cmd.AddCommand(auditCheckpointCmd()) // command_audit_checkpoint.go
		},
	})
}

// verifyPage is how many records audit verify reads at a time.
const verifyPage = 1000

// errChainBroken is the error of a verification that found a break (already
// reported on stdout).
var errChainBroken = errors.New("the audit chain is broken")

func auditVerifyCmd() *cobra.Command {
	var c commonFlags
	var tenant, fromCheckpoint string
	cmd := &cobra.Command{
		Use:   "verify --config <file> [--tenant <slug>] [--from-checkpoint <file>]",
		Short: "Verify a tenant's audit hash chain; name the first altered, removed, inserted or reordered record",
		Long: `Reads the tenant's whole audit trail in sequence order and recomputes its hash
chain. An intact chain prints the number of records and the hash of the last one
(keep it: a later run that ends earlier or elsewhere shows that records were cut
off the end) and exits 0. Otherwise it names the first broken record and what is
wrong, and exits 1:

  altered    the record links to its predecessor but its hash does not match
             its contents (a field was changed in place)
  removed    a sequence number is missing (the first missing one is named)
  reordered  the record is a genuine record under another sequence number
  inserted   the record does not link to its predecessor: a forged record, or
             the one before it was replaced with a recomputed hash

Records written since the audit trail got erasable personal data (chain version 2)
hash their e-mail, IP, user agent and details only through a keyed digest of them
(HMAC with a key derived from the master key), so those fields can be erased for
GDPR. With the gateway's master key (as configured) it also checks each such
record's personal fields against its digest: a changed one is "altered" ("a
personal field was changed"). Erased records verify and are counted. Without the
master key, or with another one, that check is skipped and says so; the chain is
still checked in full.

With --from-checkpoint (a file written by "gatehouse audit checkpoint export") it
also checks the checkpoint's signature, that the record it signs still has the
signed hash (otherwise the trail was rewritten up to there, hashes recomputed:
"rewritten"), that the trail still reaches it (otherwise "records cut off after N"),
and the chain after it.

When audit_retention has expired the oldest records, the trail starts after a cut
signed with the deployment's audit key: the chain is verified from it (its signature
checked with the stored public key). A trail that no longer starts at record 1
without such a cut at its start is broken ("removed"). A checkpoint of a record that
has since expired can no longer be compared; it is reported, and the trail is
verified from the cut.

It reads the store only (and never creates a master key); the gateway may keep
running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				if fromCheckpoint != "" {
					return runAuditVerifyFromCheckpoint(cmd.Context(), cmd.OutOrStdout(), env.store.AuditKeys(), ws, fromCheckpoint)
				}
				return runAuditVerify(cmd.Context(), cmd.OutOrStdout(), env.store.AuditKeys(), ws, env.digest)
			})
		},
	}
	c.readOnly = true
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&fromCheckpoint, "from-checkpoint", "", "a checkpoint file to verify the trail against")
	return cmd
}

// runAuditVerify verifies ws's chain (from its expiry cut, when its oldest records
// expired: the cut's signature is checked with keys; with d, also the personal fields
// of version-2 records) and prints the verdict; a break is errChainBroken.
func runAuditVerify(ctx context.Context, w io.Writer, keys store.AuditKeyStore, ws store.Workspace, d *audit.Digester) error {
	c := audit.ChainOf(ws, keys)
	c.Digester = d
	v, err := verifyChain(ctx, c, verifyPage)
	from := v.Start.Seq + 1
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		fmt.Fprintf(w, "tenant %s: audit chain BROKEN at record %d: %s: %s\n", ws.Slug, ve.Seq, ve.Kind, ve.Reason)
		switch {
		case v.Count() == 0:
			fmt.Fprintln(w, "no record before it is intact")
		case v.Count() == 1:
			fmt.Fprintf(w, "record %d is intact (its hash: %s)\n", v.Last, hex.EncodeToString(v.Hash))
		default:
			fmt.Fprintf(w, "records %d to %d are intact (hash of record %d: %s)\n", from, v.Last, v.Last, hex.EncodeToString(v.Hash))
		}
		return fmt.Errorf("tenant %s: %w at record %d (%s)", ws.Slug, errChainBroken, ve.Seq, ve.Kind)
	case err != nil:
		return fmt.Errorf("tenant %s: %w", ws.Slug, err)
	case v.Last == 0:
		fmt.Fprintf(w, "tenant %s: no audit records yet\n", ws.Slug)
	case v.Start.Cut != nil:
		c := v.Start.Cut
		fmt.Fprintf(w, "tenant %s: %d records (%d to %d; records up to %d expired under the cut signed %s by key %s), chain intact (last hash %s)\n",
			ws.Slug, v.Count(), from, v.Last, c.Seq, c.Time.UTC().Format(time.RFC3339), c.KeyID, hex.EncodeToString(v.Hash))
	default:
		fmt.Fprintf(w, "tenant %s: %d records, chain intact (last hash %s)\n", ws.Slug, v.Last, hex.EncodeToString(v.Hash))
	}
	if v.Last > 0 {
		fmt.Fprintf(w, "tenant %s: %s\n", ws.Slug, personalVerdict(v.Personal, d))
	}
	return nil
}

// personalVerdict says what the check of the personal fields found.
func personalVerdict(p audit.PersonalCheck, d *audit.Digester) string {
	erased := fmt.Sprintf("%d erased", p.Erased)
	if p.V1 > 0 {
		erased += fmt.Sprintf(", %d of chain version 1 (hashed in full, not erasable)", p.V1)
	}
	switch {
	case p.Skipped > 0:
		return fmt.Sprintf("personal fields NOT checked against their keyed digests in %d records: no master key here (configure master_key or master_key_file as the gateway has it); %s",
			p.Skipped, erased)
	case p.OtherKey > 0:
		return fmt.Sprintf("WARNING: personal fields NOT checked in %d records: they were digested with key %s, and this master key gives key %s (is it the gateway's master key?); %d match their keyed digests, %s",
			p.OtherKey, p.OtherID, d.KeyID(), p.Matched, erased)
	}
	return fmt.Sprintf("personal fields of %d records match their keyed digests; %s", p.Matched, erased)
}

// verifyChain walks the trail from its start (record 1 or a signed expiry cut) in
// pages of size page. It returns how far it verified and the first break as an
// *audit.VerifyError.
func verifyChain(ctx context.Context, c audit.Chain, page int) (audit.Verified, error) {
	return c.VerifyThrough(ctx, 0, page)
}

func auditExportCmd() *cobra.Command {
	var c commonFlags
	var tenant, format, output string
	var f admin.AuditFilter
	cmd := &cobra.Command{
		Use:   "export --config <file> [--tenant <slug>] [--format csv|pdf] [-o <file>] [--from --to --actor --action --outcome --ip --target --q]",
		Short: "Export a tenant's audit trail (or the records a filter matches) as CSV or PDF",
		Long: `Writes the records that match the filter, newest first, as CSV (RFC 4180, UTF-8,
a header row; cells a spreadsheet could run as a formula are defused) to the file
named by -o (created 0600) or to standard output. Records are read a page at a
time, so memory stays flat whatever the size of the trail.

The range is fixed when the export starts: records written meanwhile are not in it.
Before writing, the tenant's hash chain is verified from its first record through
the newest exported one; the verdict goes to standard error (an export of a broken
chain still completes and exits 0: the verdict says where it breaks).

The export is itself recorded in the audit trail (audit.export, with the filter and
the number of rows).

--format pdf writes a PDF document instead (landscape A4: the tenant, range, filter
and chain status, then a table of the records with "page N of M"); it needs -o (a
file, or - for standard output) and holds at most 20000 records: narrow the filter
or export CSV for more.

Filters (all optional, as on the Audit page): --from and --to take a date
(2006-01-02, both days included) or an RFC 3339 time; --actor an e-mail; --action an
action or its beginning (login.); --outcome success, failure or denied; --ip an
address or a CIDR prefix; --target a target; --q text.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case "csv":
			case "pdf":
				if output == "" {
					return errors.New("--format pdf needs -o <file> (or -o - to write the PDF to standard output)")
				}
			default:
				return fmt.Errorf("--format %q: must be csv or pdf", format)
			}
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				return runAuditExport(cmd.Context(), env.admin, ws, f, format, output, cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
	c.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	fl.StringVar(&format, "format", "csv", "csv or pdf (pdf needs -o)")
	fl.StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	fl.StringVar(&f.From, "from", "", "first day (2006-01-02) or time (RFC 3339)")
	fl.StringVar(&f.To, "to", "", "last day (included) or time (RFC 3339, excluded)")
	fl.StringVar(&f.Actor, "actor", "", "actor e-mail")
	fl.StringVar(&f.Action, "action", "", "action, or its beginning (e.g. login.)")
	fl.StringVar(&f.Outcome, "outcome", "", "success, failure or denied")
	fl.StringVar(&f.IP, "ip", "", "IP address or CIDR prefix")
	fl.StringVar(&f.Target, "target", "", "target (e.g. user:<id>)")
	fl.StringVar(&f.Text, "q", "", "text in the action, target, actor e-mail or details")
	return cmd
}

// auditExportFlags names the flag behind each field of the filter.
var auditExportFlags = map[string]string{"from": "--from", "to": "--to", "actor": "--actor", "action": "--action",
	"outcome": "--outcome", "ip": "--ip", "target": "--target", "q": "--q", "format": "--format"}

// runAuditExport exports ws's records matching f to the file output ("" or "-":
// stdout) and reports the rows and the chain status on errw. A file is removed again
// when the export fails.
func runAuditExport(ctx context.Context, svc *admin.Service, ws store.Workspace, f admin.AuditFilter, format, output string, stdout, errw io.Writer) error {
	ex, err := admin.Audit{Service: svc}.StartExport(ctx, ws, admin.CLI(), f, format)
	if err != nil {
		return flagError(err, auditExportFlags)
	}
	w, where := stdout, "standard output"
	var file *os.File
	if output != "" && output != "-" {
		if file, err = os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		w, where = file, output
	}
	write := ex.WriteCSV
	if ex.Format == "pdf" {
		write = ex.WritePDF
	}
	sum, err := write(ctx, w)
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(output)
		}
	}
	if err != nil {
		return fmt.Errorf("tenant %s: exporting the audit trail: %w", ws.Slug, err)
	}
	fmt.Fprintf(errw, "tenant %s: exported %d records to %s; %s\n", ws.Slug, sum.Rows, where, sum.Chain)
	return nil
}
