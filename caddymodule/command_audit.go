package caddymodule

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "audit",
		Usage: "verify --config <file> [--tenant <slug>]",
		Short: "Check Gatehouse's audit trail",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(auditVerifyCmd())
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
	var tenant string
	cmd := &cobra.Command{
		Use:   "verify --config <file> [--tenant <slug>]",
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

It reads the store only; the gateway may keep running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, c, tenant, false, func(_ *cli, ws store.Workspace) error {
				return runAuditVerify(cmd.Context(), cmd.OutOrStdout(), ws)
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	return cmd
}

// runAuditVerify verifies ws's chain and prints the verdict; a break is
// errChainBroken.
func runAuditVerify(ctx context.Context, w io.Writer, ws store.Workspace) error {
	n, last, err := verifyChain(ctx, ws.Audit(), verifyPage)
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		fmt.Fprintf(w, "tenant %s: audit chain BROKEN at record %d: %s: %s\n", ws.Slug, ve.Seq, ve.Kind, ve.Reason)
		switch n {
		case 0:
			fmt.Fprintln(w, "no record before it is intact")
		case 1:
			fmt.Fprintf(w, "record 1 is intact (its hash: %s)\n", hex.EncodeToString(last))
		default:
			fmt.Fprintf(w, "records 1 to %d are intact (hash of record %d: %s)\n", n, n, hex.EncodeToString(last))
		}
		return fmt.Errorf("tenant %s: %w at record %d (%s)", ws.Slug, errChainBroken, ve.Seq, ve.Kind)
	case err != nil:
		return fmt.Errorf("tenant %s: %w", ws.Slug, err)
	case n == 0:
		fmt.Fprintf(w, "tenant %s: no audit records yet\n", ws.Slug)
	default:
		fmt.Fprintf(w, "tenant %s: %d records, chain intact (last hash %s)\n", ws.Slug, n, hex.EncodeToString(last))
	}
	return nil
}

// verifyChain walks the trail in pages of size page. It returns how many records
// verified (the sequence number of the last intact one) and that record's hash,
// and the first break as an *audit.VerifyError.
func verifyChain(ctx context.Context, as store.AuditStore, page int) (int64, []byte, error) {
	v := audit.NewVerifier()
	var after int64
	for {
		recs, err := as.ListAudit(ctx, after, page)
		if err != nil {
			n, last := v.Last()
			return n, last, fmt.Errorf("reading the audit trail after record %d: %w", after, err)
		}
		for _, r := range recs {
			if err := v.Check(r); err != nil {
				n, last := v.Last()
				return n, last, err
			}
			after = r.Seq
		}
		if len(recs) < page {
			n, last := v.Last()
			return n, last, nil
		}
	}
}
