package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/masterkeys"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// sealedKindNames are the columns of the status table, in store.SealedKinds order.
var sealedKindNames = map[string]string{
	store.SealedDataKey:    "DATA KEYS",
	store.SealedSigningKey: "SIGNING KEYS",
	store.SealedAuditKey:   "AUDIT KEYS",
	store.SealedTOTP:       "TOTP SECRETS",
}

func masterKeysRotateCmd() *cobra.Command {
	var c commonFlags
	var resume bool
	var batch int
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a master key version and re-seal everything under it, online",
		Long: `Adds a new version to the master key file and re-seals every sealed value of the
deployment (TOTP secrets, token-signing keys, audit keys, data keys) under it, in
batches, while the gateways keep serving: each running gateway reads the key file
again when it meets a value sealed under a version it does not know, and seals under
the new version within 5 seconds. Each value is swapped by its own compare-and-swap
update, so an interrupted rotation loses nothing: run it again with --resume.

Older versions stay in the file (they still open older backups): "gatehouse keys
status" shows what each version seals, "gatehouse keys prune" removes the ones that
seal nothing. Back the new key file up before and after.

With master_key given as a value (an environment variable) the command cannot write
it: generate a key (head -c 32 /dev/urandom | base64), give every gateway
master_key "v2:NEW v1:OLD", reload them, then run "gatehouse keys rotate --resume".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			env, err := openCLI(ctx, c, false) // stores the data keys under the current version first
			if err != nil {
				return err
			}
			defer env.Close()
			keys, path, err := env.app.masterKeys(true)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			settle := time.Duration(0)
			switch {
			case path == "" && !resume:
				return errors.New("the master key is given as a value (master_key): put a new version first in it on every gateway (master_key \"v2:NEW v1:OLD\"), reload them, and run gatehouse keys rotate --resume")
			case path != "" && !resume: // --resume only reads the file (it may be a read-only mount)
				unlock, err := secret.LockMasterKeyFile(path)
				if err != nil {
					return err
				}
				defer unlock()
				if keys, err = secret.ReadMasterKeyFile(path); err != nil {
					return err
				}
				nk := secret.NewMasterKey(keys)
				keys = append([]secret.MasterKey{nk}, keys...)
				if err := secret.WriteMasterKeyFile(path, keys); err != nil {
					return err
				}
				fmt.Fprintf(out, "added master key v%d (%s) to %s\n", nk.Version, nk.KeyID(), path)
				settle = keyReloadInterval + time.Second // until every gateway seals under it
			}
			fc, err := secret.NewVersionedFieldCipher(keys)
			if err != nil {
				return err
			}
			r := &masterkeys.Rotator{Fields: env.store.SealedFields(), Cipher: fc, Batch: batch}
			res, err := r.Run(ctx, settle)
			if err != nil {
				return err
			}
			var parts []string
			for _, kind := range store.SealedKinds {
				parts = append(parts, fmt.Sprintf("%d %s", res.Resealed[kind], strings.ToLower(sealedKindNames[kind])))
			}
			fmt.Fprintf(out, "re-sealed under v%d (%s): %s\n", keys[0].Version, res.KeyID, strings.Join(parts, ", "))
			for _, f := range res.Failed {
				fmt.Fprintf(out, "cannot open %s %s %s (sealed under %s): %v\n", f.Field.Kind, f.Field.Tenant, f.Field.ID, f.Field.KeyID, f.Err)
			}
			if len(res.Failed) > 0 {
				return fmt.Errorf("%d values could not be re-sealed: add the key version that sealed them back to the key file and run gatehouse keys rotate --resume", len(res.Failed))
			}
			st, err := masterkeys.Report(ctx, env.store.SealedFields(), keys)
			if err != nil {
				return err
			}
			return writeKeyStatus(out, st)
		},
	}
	c.add(cmd)
	cmd.Flags().BoolVar(&resume, "resume", false, "do not add a version: re-seal what is not yet under the newest one (after an interruption)")
	cmd.Flags().IntVar(&batch, "batch", 200, "values read per batch")
	return cmd
}

func masterKeysStatusCmd() *cobra.Command {
	c := commonFlags{readOnly: true}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what is sealed under which master key version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openCLI(cmd.Context(), c, false)
			if err != nil {
				return err
			}
			defer env.Close()
			keys, _, err := env.app.masterKeys(false)
			if err != nil {
				return err
			}
			if keys == nil {
				return errors.New("no master key file yet: the gateway creates it when it first starts")
			}
			st, err := masterkeys.Report(cmd.Context(), env.store.SealedFields(), keys)
			if err != nil {
				return err
			}
			if asJSON {
				return writeKeyStatusJSON(cmd.OutOrStdout(), st)
			}
			return writeKeyStatus(cmd.OutOrStdout(), st)
		},
	}
	c.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func masterKeysPruneCmd() *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove master key versions that seal nothing from the key file",
		Long: `Removes from the key file every version that is not the newest and under which
nothing in the store is sealed any more (see gatehouse keys status). A version that
still seals a value is kept. Backups of the store taken before the rotation still need
the removed versions: keep a copy of the old key file with them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openCLI(cmd.Context(), c, false)
			if err != nil {
				return err
			}
			defer env.Close()
			_, path, err := env.app.masterKeys(true)
			if err != nil {
				return err
			}
			if path == "" {
				return errors.New("the master key is given as a value (master_key): remove unused versions from it yourself (gatehouse keys status shows which)")
			}
			unlock, err := secret.LockMasterKeyFile(path)
			if err != nil {
				return err
			}
			defer unlock()
			keys, err := secret.ReadMasterKeyFile(path)
			if err != nil {
				return err
			}
			st, err := masterkeys.Report(cmd.Context(), env.store.SealedFields(), keys)
			if err != nil {
				return err
			}
			unused := st.Unused()
			out := cmd.OutOrStdout()
			for _, k := range st.Keys {
				if !k.Current && k.Total() > 0 {
					fmt.Fprintf(out, "keeping v%d: it still seals %d values (run gatehouse keys rotate --resume)\n", k.Version, k.Total())
				}
			}
			if len(unused) == 0 {
				fmt.Fprintln(out, "nothing to remove")
				return nil
			}
			kept := slices.DeleteFunc(slices.Clone(keys), func(k secret.MasterKey) bool { return slices.Contains(unused, k.Version) })
			if err := secret.WriteMasterKeyFile(path, kept); err != nil {
				return err
			}
			for _, v := range unused {
				fmt.Fprintf(out, "removed v%d from %s\n", v, path)
			}
			return nil
		},
	}
	c.add(cmd)
	return cmd
}

// writeKeyStatus prints one line per version (and one per unknown key id).
func writeKeyStatus(w io.Writer, st masterkeys.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "VERSION\tKEY ID\tSTATE")
	for _, kind := range store.SealedKinds {
		fmt.Fprintf(tw, "\t%s", sealedKindNames[kind])
	}
	fmt.Fprintln(tw)
	row := func(version, id, state string, counts map[string]int64) {
		fmt.Fprintf(tw, "%s\t%s\t%s", version, id, state)
		for _, kind := range store.SealedKinds {
			fmt.Fprintf(tw, "\t%d", counts[kind])
		}
		fmt.Fprintln(tw)
	}
	for _, k := range st.Keys {
		row(fmt.Sprintf("v%d", k.Version), k.KeyID, k.State(), k.Sealed)
	}
	unknown := map[string]map[string]int64{}
	var ids []string
	for _, c := range st.Unknown {
		if unknown[c.KeyID] == nil {
			unknown[c.KeyID] = map[string]int64{}
			ids = append(ids, c.KeyID)
		}
		unknown[c.KeyID][c.Kind] += c.N
	}
	for _, id := range ids {
		row("?", id, "MISSING", unknown[id])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ids) > 0 {
		_, err := fmt.Fprintln(w, "some values are sealed under a key the key file does not hold: add that version back, or they cannot be opened")
		return err
	}
	return nil
}

// keyStatusJSON is the --json shape of one version.
type keyStatusJSON struct {
	Version int              `json:"version,omitempty"` // 0: a key id no version has
	KeyID   string           `json:"key_id"`
	State   string           `json:"state"` // current, in use, unused, missing
	Sealed  map[string]int64 `json:"sealed"`
}

func writeKeyStatusJSON(w io.Writer, st masterkeys.Status) error {
	out := []keyStatusJSON{}
	for _, k := range st.Keys {
		out = append(out, keyStatusJSON{Version: k.Version, KeyID: k.KeyID, State: k.State(), Sealed: k.Sealed})
	}
	for _, c := range st.Unknown {
		i := slices.IndexFunc(out, func(k keyStatusJSON) bool { return k.State == "missing" && k.KeyID == c.KeyID })
		if i < 0 {
			out = append(out, keyStatusJSON{KeyID: c.KeyID, State: "missing", Sealed: map[string]int64{}})
			i = len(out) - 1
		}
		out[i].Sealed[c.Kind] += c.N
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
