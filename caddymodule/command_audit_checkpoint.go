package caddymodule

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func auditCheckpointCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Signed audit checkpoints",
	}
	cmd.AddCommand(auditCheckpointExportCmd())
	return cmd
}

func auditCheckpointExportCmd() *cobra.Command {
	var c commonFlags
	var tenant, output string
	cmd := &cobra.Command{
		Use:   "export --config <file> [--tenant <slug>] [-o <file>]",
		Short: "Sign the current head of a tenant's audit trail and write the checkpoint for an auditor to keep",
		Long: `Verifies the records since the tenant's last checkpoint, signs the hash of the
newest record with the deployment's Ed25519 audit key (created, sealed with the master
key, when there is none) and writes the checkpoint as JSON, with the public key, to
the file named by -o (created 0600) or to standard output. Keep it away from the
gateway: "gatehouse audit verify --from-checkpoint <file>" later shows whether the
trail up to it was rewritten or cut off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				cipher, _, err := env.app.fieldCipher()
				if err != nil {
					return err
				}
				keys := &audit.KeyStore{Store: env.store.AuditKeys(), Leases: env.store.Maintenance(), Cipher: cipher,
					Holder: "cli", Clock: clock.Real{}}
				return runCheckpointExport(cmd.Context(), keys, ws, output, time.Now(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

// runCheckpointExport signs ws's head and writes the checkpoint to output ("" or "-":
// stdout).
func runCheckpointExport(ctx context.Context, keys *audit.KeyStore, ws store.Workspace, output string, now time.Time, stdout, errw io.Writer) error {
	signer, err := keys.Ensure(ctx)
	if err != nil {
		return err
	}
	cp, ok, err := audit.CheckpointNow(ctx, signer, ws.TenantHandle, now)
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		return fmt.Errorf("tenant %s: not signing a broken trail: record %d: %s: %s", ws.Slug, ve.Seq, ve.Kind, ve.Reason)
	case err != nil:
		return fmt.Errorf("tenant %s: %w", ws.Slug, err)
	case !ok:
		return fmt.Errorf("tenant %s: no audit records yet: nothing to checkpoint", ws.Slug)
	}
	pub := signer.Public
	if cp.KeyID != signer.KeyID { // an older checkpoint of the same head, by an older key
		if pub, err = audit.StoredPublicKey(ctx, keys.Store, cp.KeyID); err != nil {
			return err
		}
	}
	b, err := audit.MarshalCheckpoint(cp, pub, ws.Slug)
	if err != nil {
		return err
	}
	where := "standard output"
	if output != "" && output != "-" {
		if err := os.WriteFile(output, b, 0o600); err != nil {
			return err
		}
		where = output
	} else if _, err := stdout.Write(b); err != nil {
		return err
	}
	fmt.Fprintf(errw, "tenant %s: checkpoint of record %d (hash %s) signed by key %s, written to %s\n",
		ws.Slug, cp.Seq, hex.EncodeToString(cp.Hash), cp.KeyID, where)
	return nil
}

// runAuditVerifyFromCheckpoint verifies ws's trail against the checkpoint in file:
// its signature, its key (a warning when the store does not hold it), that the record
// it signs is still there with the signed hash, and the chain after it.
func runAuditVerifyFromCheckpoint(ctx context.Context, w io.Writer, ks store.AuditKeyStore, ws store.Workspace, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--from-checkpoint: %w", err)
	}
	cp, pub, err := audit.ParseCheckpoint(b)
	if err != nil {
		return fmt.Errorf("--from-checkpoint %s: %w", file, err)
	}
	if cp.Tenant != ws.ID {
		return fmt.Errorf("--from-checkpoint %s: the checkpoint is of tenant id %s, not of %s (%s)", file, cp.Tenant, ws.Slug, ws.ID)
	}
	if stored, err := audit.StoredPublicKey(ctx, ks, cp.KeyID); err != nil || !stored.Equal(pub) {
		fmt.Fprintf(w, "WARNING: the checkpoint is signed by key %s, which this store does not hold: it was made by another deployment, or the store's audit keys were replaced\n", cp.KeyID)
	}
	v, err := audit.ChainOf(ws, ks).VerifyFromCheckpoint(ctx, cp, verifyPage)
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		fmt.Fprintf(w, "tenant %s: audit trail FAILS the checkpoint of record %d (signed %s): record %d: %s: %s\n",
			ws.Slug, cp.Seq, cp.Time.UTC().Format(time.RFC3339), ve.Seq, ve.Kind, ve.Reason)
		return fmt.Errorf("tenant %s: %w at record %d (%s)", ws.Slug, errChainBroken, ve.Seq, ve.Kind)
	case err != nil:
		return fmt.Errorf("tenant %s: %w", ws.Slug, err)
	case v.CheckpointExpired:
		c := v.Start.Cut
		fmt.Fprintf(w, "tenant %s: record %d of the checkpoint signed %s has expired (records up to %d expired under the cut signed %s by key %s): it can no longer be compared; records %d to %d, chain intact from the cut (last hash %s)\n",
			ws.Slug, cp.Seq, cp.Time.UTC().Format(time.RFC3339), c.Seq, c.Time.UTC().Format(time.RFC3339), c.KeyID, c.Seq+1, v.Last, hex.EncodeToString(v.Hash))
		return nil
	}
	fmt.Fprintf(w, "tenant %s: record %d matches the checkpoint signed %s by key %s; %d records, chain intact (last hash %s)\n",
		ws.Slug, cp.Seq, cp.Time.UTC().Format(time.RFC3339), cp.KeyID, v.Count(), hex.EncodeToString(v.Hash))
	return nil
}
