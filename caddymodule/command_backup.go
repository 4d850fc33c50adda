package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "backup",
		Usage: "--config <file> -o <file>",
		Short: "Copy the embedded SQLite store, online, to a file",
		CobraFunc: func(cmd *cobra.Command) {
			backupCmd(cmd)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "restore",
		Usage: "--config <file> -i <file>",
		Short: "Put a backup of the SQLite store back (the gateway must be stopped)",
		CobraFunc: func(cmd *cobra.Command) {
			restoreCmd(cmd)
		},
	})
}

func backupCmd(cmd *cobra.Command) {
	var c commonFlags
	var out string
	cmd.Long = `Writes a consistent copy of the embedded SQLite store to a new file (0600) while the
gateway keeps serving: the copy is the database as of one moment (SQLite's VACUUM INTO,
in one read transaction that neither waits for nor blocks the gateway's writes). An
existing file is not overwritten.

The copy holds sealed secrets (TOTP keys, signing keys) encrypted under the master
key, which it does not contain: back the master key up separately, and keep the two
apart. A PostgreSQL store is refused: back it up with pg_dump, or continuous
archiving for point-in-time recovery (README, Backups).`
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if out == "" {
			return errors.New("-o is required: the file to write the backup to")
		}
		dsn, err := storeDSN(c)
		if err != nil {
			return err
		}
		if !isSQLiteFile(dsn) {
			return fmt.Errorf("the store is not a SQLite file: %w", sqlstore.ErrBackupUnsupported)
		}
		st, err := sqlstore.Open(cmd.Context(), dsn)
		if err != nil {
			return fmt.Errorf("opening store %s: %w", redactDSN(dsn), err)
		}
		defer st.Close()
		start := time.Now()
		if err := st.Backup(cmd.Context(), out); err != nil {
			return fmt.Errorf("backing up: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "backup written to %s in %v (back the master key up separately)\n", out, time.Since(start).Round(time.Millisecond))
		return nil
	}
	c.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "the file to write (must not exist)")
}

func restoreCmd(cmd *cobra.Command) {
	var c commonFlags
	var in string
	cmd.Long = `Puts a backup written by "gatehouse backup" (or the backup block) in place of the
store's SQLite file. Stop every gateway using the store first: the command refuses
while any process has the store open, and a gateway started while it runs refuses to
start (start it again afterwards).

The file is checked before anything changes: it must be a SQLite database that passes
PRAGMA integrity_check and holds Gatehouse's migrations table, of a schema version this
build knows. The database it replaces is kept beside it as
<file>.before-restore-<UTC time> (with its -wal file, if any). The gateway needs the
master key the backup was made with.`
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if in == "" {
			return errors.New("-i is required: the backup file to restore")
		}
		dsn, err := storeDSN(c)
		if err != nil {
			return err
		}
		r, err := sqlstore.Restore(cmd.Context(), dsn, in, time.Now())
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "restored %s into %s (schema version %d)\n", in, r.File, r.Version)
		if r.Aside != "" {
			fmt.Fprintf(w, "the database it replaced is kept as %s\n", r.Aside)
		}
		return nil
	}
	c.add(cmd)
	cmd.Flags().StringVarP(&in, "input", "i", "", "the backup file to restore")
}

// storeDSN reads the store's DSN from the config the gateway runs with (placeholders
// expanded), without opening anything.
func storeDSN(f commonFlags) (string, error) {
	if f.config == "" {
		return "", errors.New("--config is required (the Caddyfile or JSON config the gateway runs with)")
	}
	cfg, err := loadConfigQuiet(f.config, f.adapter)
	if err != nil {
		return "", fmt.Errorf("--config %s: %w", f.config, err)
	}
	var doc struct {
		Apps struct {
			Gatehouse json.RawMessage `json:"gatehouse"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return "", fmt.Errorf("--config %s: %w", f.config, err)
	}
	app := &App{}
	if len(doc.Apps.Gatehouse) > 0 {
		if err := json.Unmarshal(doc.Apps.Gatehouse, app); err != nil {
			return "", fmt.Errorf("--config %s: reading the gatehouse app: %w", f.config, err)
		}
	}
	if err := app.applyDefaults(); err != nil {
		return "", fmt.Errorf("--config %s: %w", f.config, err)
	}
	return caddy.NewReplacer().ReplaceAll(app.Store, ""), nil
}

// isSQLiteFile reports whether dsn names a SQLite file (not PostgreSQL, not memory).
func isSQLiteFile(dsn string) bool {
	return strings.HasPrefix(dsn, "sqlite:") && dsn != "sqlite::memory:"
}
