package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "keys",
		Usage: "list|rotate-signing|rotate|status|prune --config <file>",
		Short: "Manage the token-signing keys and the master key",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(keysListCmd(), keysRotateCmd(), masterKeysRotateCmd(), masterKeysStatusCmd(), masterKeysPruneCmd())
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "token",
		Usage: "inspect --config <file> <token>",
		Short: "Decode and verify Gatehouse tokens",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(tokenInspectCmd())
		},
	})
}

// withKeys opens the CLI environment and the store's signing keys (with the config's
// master key) and runs fn.
func withKeys(cmd *cobra.Command, f commonFlags, fn func(env *cli, k *token.KeyRing) error) error {
	env, err := openCLI(cmd.Context(), f, false)
	if err != nil {
		return err
	}
	defer env.Close()
	cipher, _, err := env.app.fieldCipher()
	if err != nil {
		return err
	}
	k := &token.KeyRing{Store: env.store.SigningKeys(), Leases: env.store.Maintenance(), Cipher: cipher, Holder: "cli",
		Rotation: time.Duration(env.app.SigningKeyRotation), Clock: clock.Real{}}
	if err := k.Load(cmd.Context()); err != nil {
		return err
	}
	return fn(env, k)
}

func keysListCmd() *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "list --config <file>",
		Short: "List the signing keys: which signs now, which are published in the JWKS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeys(cmd, c, func(_ *cli, k *token.KeyRing) error {
				return printKeys(cmd.OutOrStdout(), k.Describe(time.Now()))
			})
		},
	}
	c.add(cmd)
	return cmd
}

func printKeys(w io.Writer, keys []token.KeyInfo) error {
	if len(keys) == 0 {
		_, err := fmt.Fprintln(w, "no signing key yet (the gateway makes one when it starts)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tCREATED\tSIGNS FROM\tSTATE")
	for _, k := range keys {
		var state []string
		switch {
		case k.Signing:
			state = append(state, "signing")
		case k.SignsFrom.After(time.Now()):
			state = append(state, "next")
		}
		if k.Published {
			state = append(state, "published")
		} else {
			state = append(state, "retired")
		}
		if !k.CanSign {
			state = append(state, "sealed with another master key")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Created.UTC().Format(time.RFC3339), k.SignsFrom.UTC().Format(time.RFC3339), strings.Join(state, ", "))
	}
	return tw.Flush()
}

func keysRotateCmd() *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "rotate-signing --config <file>",
		Short: "Make a new signing key: published now, signing in 10 minutes",
		Long: `Makes a new ES256 signing key. It is published in the JWKS at once and signs
from ` + token.PublishLead.String() + ` on, so that every verifier knows it before it sees a token signed
with it; the key it replaces stays published ` + token.RetireAfter.String() + ` longer, past the
end of every token it signed. Running gateways pick the key up within a minute.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeys(cmd, c, func(_ *cli, k *token.KeyRing) error {
				kid, err := k.Rotate(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new signing key %s: published now, signs from %s\n", kid,
					time.Now().Add(token.PublishLead).UTC().Format(time.RFC3339))
				return printKeys(cmd.OutOrStdout(), k.Describe(time.Now()))
			})
		},
	}
	c.add(cmd)
	return cmd
}

func tokenInspectCmd() *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "inspect --config <file> <token>|-",
		Short: "Decode a token (access token or assertion) and verify it against this deployment's keys",
		Long: `Prints the token's header and claims, whether its signature is one of this
deployment's keys, whether it would be refused for its type or times, and the state
of the session it names. "-" reads the token from standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw := args[0]
			if raw == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 16<<10))
				if err != nil {
					return err
				}
				raw = string(b)
			}
			raw = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "Bearer "))
			return withKeys(cmd, c, func(env *cli, k *token.KeyRing) error {
				in, err := k.Inspect(raw, time.Now())
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintln(out, in)
				switch {
				case !in.Verified:
					fmt.Fprintf(out, "signature: NOT verified (%s)\n", in.Problem)
				case in.Problem != "":
					fmt.Fprintf(out, "signature: verified\nrefused: %s\n", in.Problem)
				default:
					fmt.Fprintf(out, "signature: verified\nvalid until %s\n", in.Expires.UTC().Format(time.RFC3339))
				}
				state, live := env.sessionState(cmd.Context(), in)
				fmt.Fprintln(out, "session:", state)
				if !in.Verified || in.Problem != "" || !live {
					return errors.New("the token would be refused")
				}
				return nil
			})
		},
	}
	c.add(cmd)
	return cmd
}

// sessionState says whether the session a token names is live.
func (c *cli) sessionState(ctx context.Context, in token.Inspection) (string, bool) {
	tid, _ := in.Claims["tid"].(string)
	sid, _ := in.Claims["sid"].(string)
	if tid == "" || sid == "" {
		return "none named", false
	}
	s, err := c.store.Tenant(tid).Sessions().SessionByID(ctx, sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sid + " unknown (purged, or of another deployment)", false
	case err != nil:
		return sid + ": " + err.Error(), false
	case !s.RevokedAt.IsZero():
		return sid + " revoked at " + s.RevokedAt.UTC().Format(time.RFC3339) + ": the token is refused", false
	case !time.Now().Before(s.ExpiresAt):
		return sid + " expired: the token is refused", false
	}
	return sid + " live", true
}
