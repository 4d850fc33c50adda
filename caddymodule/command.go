package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/masterkeys"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

// The CLI translates flags into calls of the same use cases the portal calls
// (internal/admin); it acts as an owner (audit actor "cli").

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "tenant",
		Usage: "create|list|rename|security --config <file> ...",
		Short: "Manage Gatehouse tenants (workspaces)",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(tenantCreateCmd(), tenantListCmd(), tenantRenameCmd(), tenantSecurityCmd())
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "user",
		Usage: "add|invite|list|set-role|disable|enable|delete|restore|deleted|reset-password|reset-2fa|unlock|sessions|revoke-sessions --config <file> ...",
		Short: "Manage Gatehouse users",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(userAddCmd(), userInviteCmd(), userListCmd(), userSetRoleCmd(), userStatusCmd(true), userStatusCmd(false),
				userResetPasswordCmd(), userResetFactorsCmd(), userUnlockCmd(), userSessionsCmd(), userRevokeSessionsCmd())
			cmd.AddCommand(userDeleteCmds()...)
		},
	})
}

type commonFlags struct {
	config, adapter string
	// readOnly: the command only reads, so openCLI does not create a missing master
	// key file (a new key would not be the gateway's).
	readOnly bool
}

func (c *commonFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&c.config, "config", "c", "", "Caddyfile or JSON config the gateway runs with (required)")
	cmd.Flags().StringVarP(&c.adapter, "adapter", "a", "", "config adapter (default: caddyfile for files named Caddyfile*)")
}

// cli is what a command works with: the store and the use cases, configured from the
// same config file the gateway runs with.
type cli struct {
	store    store.Store
	app      *App
	admin    *admin.Service
	sessions *session.Manager
	redis    kv.Store        // nil without the redis option
	digest   *audit.Digester // the audit digest key; nil without a master key (readOnly only)
}

func (c *cli) Close() {
	c.sessions.Close()
	if c.redis != nil {
		c.redis.Close()
	}
	c.store.Close()
}

// openCLI reads the config (without Caddy's config-loading log lines), opens the store
// it names — running migrations like the server does — and builds the admin use cases.
// With withRedis, the lockout counters in Redis are reachable too (when configured).
func openCLI(ctx context.Context, f commonFlags, withRedis bool) (*cli, error) {
	if f.config == "" {
		return nil, errors.New("--config is required (the Caddyfile or JSON config the gateway runs with)")
	}
	cfg, err := loadConfigQuiet(f.config, f.adapter)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", f.config, err)
	}
	var doc struct {
		Apps struct {
			Gatehouse json.RawMessage `json:"gatehouse"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("--config %s: %w", f.config, err)
	}
	app := &App{}
	if len(doc.Apps.Gatehouse) > 0 {
		if err := json.Unmarshal(doc.Apps.Gatehouse, app); err != nil {
			return nil, fmt.Errorf("--config %s: reading the gatehouse app: %w", f.config, err)
		}
	}
	if err := app.applyDefaults(); err != nil {
		return nil, fmt.Errorf("--config %s: %w", f.config, err)
	}
	dsn := caddy.NewReplacer().ReplaceAll(app.Store, "")
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", redactDSN(dsn), err)
	}
	c := &cli{store: st, app: app}
	if _, err := admin.EnsureDefaultTenant(ctx, st, clock.Real{}); err != nil {
		st.Close()
		return nil, err
	}
	// Like the gateway, the CLI writes version-2 audit records: it needs the master key
	// (created when missing, as the gateway would).
	if masters, _, err := app.masterKeys(!f.readOnly); err != nil {
		st.Close()
		return nil, fmt.Errorf("--config %s: %w", f.config, err)
	} else if masters != nil {
		if c.digest, err = cliDigester(ctx, st, masters, !f.readOnly); err != nil {
			st.Close()
			return nil, err
		}
	}
	lockout := &authn.Lockout{Policy: authn.LockoutPolicy{Threshold: app.LockoutThreshold,
		Base: time.Duration(app.LockoutDuration), Max: time.Duration(app.LockoutMax)}, TenantPolicy: tenantLockoutPolicy(st)}
	if withRedis && app.Redis != "" {
		prefix := app.RedisKeyPrefix
		if prefix == "" {
			prefix = kv.DefaultKeyPrefix
		}
		url := caddy.NewReplacer().ReplaceAll(app.Redis, "")
		r, err := kv.OpenRedis(ctx, url, kv.RedisOptions{KeyPrefix: prefix})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("redis: %w", err) // the error names the URL, passwords redacted
		}
		c.redis, lockout.KV = r, r
	}
	templates := notify.DefaultTemplates()
	if app.MailTemplates != "" {
		if templates, err = notify.LoadTemplates(app.MailTemplates); err != nil {
			st.Close()
			return nil, fmt.Errorf("--config %s: mail_templates: %w", f.config, err)
		}
	}
	clk := clock.Real{}
	audits := audit.NewWriter(clk).WithDigester(c.digest)
	hasher, rules := &identity.Hasher{Cost: app.BcryptCost}, identity.PasswordRules{MinLength: app.MinPasswordLength}
	// Mail goes into the store's outbox; the running gateway delivers it.
	mail := notify.NewNotifier(templates, st.Outbox(), clk, nil)
	c.sessions = session.NewManager(st, clk, session.Options{})
	signIn := &authn.SignIn{Sessions: c.sessions, Audit: audits, Mail: mail, Hasher: hasher, Rules: rules, Clock: clk}
	c.admin = &admin.Service{Lockout: lockout, MFA: &authn.MFA{Clock: clk}, Audit: audits, AuditKeys: st.AuditKeys(), Hasher: hasher, Rules: rules,
		Sessions: c.sessions, Links: authn.Links{SignIn: signIn}, Mail: mail, Clock: clk}
	return c, nil
}

// workspace finds the tenant a command works on (--tenant).
func (c *cli) workspace(ctx context.Context, slug string) (store.Workspace, error) {
	t, err := c.store.Tenants().TenantBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return store.Workspace{}, fmt.Errorf("--tenant %q: no such tenant (gatehouse tenant list shows them)", slug)
	}
	if err != nil {
		return store.Workspace{}, fmt.Errorf("--tenant %q: %w", slug, err)
	}
	return store.Workspace{Tenant: t, TenantHandle: c.store.Tenant(t.ID)}, nil
}

// inTenant opens the CLI environment and the tenant named by --tenant and runs fn.
func inTenant(cmd *cobra.Command, f commonFlags, tenant string, withRedis bool, fn func(env *cli, ws store.Workspace) error) error {
	env, err := openCLI(cmd.Context(), f, withRedis)
	if err != nil {
		return err
	}
	defer env.Close()
	ws, err := env.workspace(cmd.Context(), tenant)
	if err != nil {
		return err
	}
	return fn(env, ws)
}

// flagError names the flag behind a use case's input error.
func flagError(err error, flags map[string]string) error {
	var ie *authn.InputError
	var fe *admin.FieldError
	field, msg := "", ""
	switch {
	case errors.As(err, &ie):
		field, msg = ie.Field, ie.Msg
	case errors.As(err, &fe):
		field, msg = fe.Field, fe.Msg
	default:
		return err
	}
	if flag, ok := flags[field]; ok {
		return fmt.Errorf("%s: %s", flag, msg)
	}
	return errors.New(msg)
}

// cliDigester is the audit digester with the deployment's digest key (a data key,
// stored on first use unless the command only reads).
func cliDigester(ctx context.Context, st store.Store, masters []secret.MasterKey, create bool) (*audit.Digester, error) {
	fc, err := secret.NewVersionedFieldCipher(masters)
	if err != nil {
		return nil, err
	}
	dk, err := masterkeys.EnsureDataKeys(ctx, st.DataKeys(), fc, masters, create, time.Now())
	if errors.Is(err, secret.ErrUnknownKey) && !create {
		// Another master key than the store's: a command that only reads still runs,
		// with the digest key this master key would give — audit verify then says the
		// digests were made with another key instead of checking them.
		return audit.NewDigester(masterkeys.Oldest(masters).Key)
	}
	if err != nil {
		return nil, err
	}
	return audit.NewDigesterWithKey(dk.AuditDigest)
}
