package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/account"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/masterkeys"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// services are what the sites need from the app, built in Start.
type services struct {
	store    store.Store
	clock    clock.Clock
	sessions *session.Manager
	tenants  *gateway.Directory
	limiter  *ratelimit.Limiter
	signIn   *authn.SignIn
	account  *account.Service
	admin    *admin.Service
	rules    identity.PasswordRules
	// Tokens: the signing keys, bearer verification, assertions, the token endpoint.
	keys       *token.KeyRing
	verifier   *token.Verifier
	assertions *token.Assertions
	tokens     *token.Service
	// Proxied-request records (group commit) and aggregated policy denials.
	audit   *audit.Committer
	denials *audit.Denials
	// Tenant exports run in the background for the portal (closed at Stop).
	exports *admin.ExportJobs
}

func (a *App) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	hot, err := a.hotState(ctx)
	if err != nil {
		return err
	}
	cipher, masters, err := a.fieldCipher()
	if err != nil {
		return err
	}
	// The data keys outlive master key versions: stored sealed, derived from the
	// master key only the first time.
	dataKeys, err := masterkeys.EnsureDataKeys(ctx, st.DataKeys(), cipher, masters, true, time.Now())
	if err != nil {
		return err
	}
	successorKey := dataKeys.RefreshSuccessor
	digester, err := audit.NewDigesterWithKey(dataKeys.AuditDigest) // the audit chain covers a keyed digest of personal fields
	if err != nil {
		return err
	}
	clk := clock.Real{}
	cfg := a.passkeyCfg
	cfg.Clock, cfg.Challenges = clk, passkey.NewMemoryChallenges(clk) // bounded; per instance
	if a.Redis != "" {
		cfg.Challenges = kvChallenges{kv: hot.kv} // any instance can finish a ceremony
	}
	pks, err := passkey.New(cfg)
	if err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	outboxer, ok := st.(interface{ Outbox() *sqlstore.Outbox })
	if !ok {
		return errors.New("store has no mail outbox")
	}
	notifier, worker, err := a.mailer(outboxer.Outbox())
	if err != nil {
		return err
	}
	a.mailWorker = worker
	a.metrics.watchOutbox(worker)
	a.metrics.watchSessions(st.Maintenance())

	hashCost := authn.MeasureHash(a.hasher) // also computes the dummy hash: the first unknown-user sign-in is not faster
	rules := identity.PasswordRules{MinLength: a.MinPasswordLength}
	limiter := hot.limiter.WithRules(a.rateRules)
	a.metrics.watchLimiter(limiter, a.logger)
	lockout := &authn.Lockout{KV: hot.kv, Policy: authn.LockoutPolicy{Threshold: a.LockoutThreshold,
		Base: time.Duration(a.LockoutDuration), Max: time.Duration(a.LockoutMax)}, TenantPolicy: tenantLockoutPolicy(st)}
	mfa := &authn.MFA{Cipher: cipher, Clock: clk}
	sessions := session.NewManager(st, clk, session.Options{Lifetime: time.Duration(a.SessionLifetime),
		IdleTimeout: time.Duration(a.IdleTimeout), CacheTTL: time.Duration(a.SessionCacheTTL)})
	passwords := &authn.Passwords{Hasher: a.hasher, Clock: clk, Lockout: lockout,
		Gate: authn.NewGate(authn.GateConfig{Share: a.SigninCPUShare, Estimate: hashCost})}
	audits := audit.NewWriter(clk).WithDigester(digester)
	signIn := &authn.SignIn{Passwords: passwords, MFA: mfa, Passkeys: pks, Sessions: sessions, Audit: audits,
		Mail: notifier, Throttle: limiter, Metrics: a.metrics, MaxSpeedKmh: a.MaxTravelSpeed,
		Hasher: a.hasher, Rules: rules, Clock: clk, Logger: a.logger.Named("signin"), OverloadHold: time.Second}
	signIn.Locations = risk.OpenGeoIP(caddy.NewReplacer().ReplaceAll(a.GeoIPDB, ""), a.logger.Named("geoip"))
	dir := &gateway.Directory{Store: st, TTL: 30 * time.Second, Now: clk.Now}
	signIn.Renamed = dir.Forget
	reauth := time.Duration(a.ReauthAge)
	a.svc = &services{
		store: st, clock: clk, sessions: sessions, tenants: dir, limiter: limiter, signIn: signIn, rules: rules,
		account: &account.Service{MFA: mfa, Passwords: passwords, SignIn: signIn, Passkeys: pks, Sessions: sessions, Audit: audits,
			Rules: rules, Mail: notifier, Locations: signIn.Locations, ReauthAge: reauth, Clock: clk},
		admin: &admin.Service{Lockout: lockout, MFA: mfa, Audit: audits, AuditKeys: st.AuditKeys(), Hasher: a.hasher, Rules: rules, Clock: clk,
			Sessions: sessions, Links: authn.Links{SignIn: signIn}, Mail: notifier, Locations: signIn.Locations, ReauthAge: reauth},
	}
	exportLog := a.logger.Named("export")
	a.svc.exports = &admin.ExportJobs{Export: admin.TenantExport{Service: a.svc.admin},
		Failed: func(id string, err error) {
			exportLog.Error("tenant export failed", zap.String("export", id), zap.Error(err))
		}}
	host, _ := os.Hostname()
	holder := host + "/" + secret.NewID()
	keys := &token.KeyRing{Store: st.SigningKeys(), Leases: st.Maintenance(), Cipher: cipher, Holder: holder,
		Rotation: time.Duration(a.SigningKeyRotation), Clock: clk, Logger: a.logger.Named("keys")}
	if err := keys.Ensure(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	a.svc.keys = keys
	a.svc.verifier = &token.Verifier{Keys: keys, Size: a.TokenCacheSize, Clock: clk}
	a.svc.assertions = &token.Assertions{Keys: keys, Size: a.TokenCacheSize, Clock: clk}
	a.svc.tokens = &token.Service{Keys: keys, Sessions: sessions, Audit: audits, Metrics: a.metrics, SuccessorKey: successorKey,
		Grace: time.Duration(a.RefreshGrace), Clock: clk}
	if err := a.firstRun(ctx); err != nil {
		return err
	}
	if a.svc.audit, err = a.openCommitter(st, a.poolKey, digester.Seal); err != nil {
		return err
	}
	a.svc.denials = &audit.Denials{Sink: a.svc.audit, Clock: clk}
	a.denials = a.svc.denials
	jobs, stop := context.WithCancel(context.Background())
	a.stopJobs = stop
	go a.svc.denials.Run(jobs)
	go limiter.Watch(jobs, 0) // gatehouse_redis_degraded follows Redis without traffic
	go keys.Run(jobs)
	auditKeys := &audit.KeyStore{Store: st.AuditKeys(), Leases: st.Maintenance(), Cipher: cipher, Holder: holder, Clock: clk}
	go (&audit.Checkpointer{Store: st, Keys: auditKeys, Leases: st.Maintenance(), Holder: holder,
		Every: int64(a.AuditCheckpointEvery), Interval: time.Duration(a.AuditCheckpointInterval),
		Clock: clk, Logger: a.logger.Named("audit-checkpoints")}).Run(jobs) // signed audit checkpoints
	go a.auditExpirer(st, auditKeys, audits, holder, clk).Run(jobs) // audit_retention (returns at once when 0)
	go (&session.Purger{Store: st.Maintenance(), Holder: holder, Clock: clk, Logger: a.logger.Named("purge")}).Run(jobs)
	go a.svc.sessions.SweepCache(jobs, 15*time.Second)                                                 // this instance's memory: no lease
	go (&admin.MemberPurger{Store: st, Service: a.svc.admin, Leases: st.Maintenance(), Holder: holder, // deleted members, after 30 days
		Logger: a.logger.Named("member-purge")}).Run(jobs)
	if err := a.startBackups(jobs, st, holder, clk); err != nil { // the backup block (backup.go)
		return err
	}
	go (&admin.RequestReminders{Store: st, Service: a.svc.admin, Leases: st.Maintenance(), Outbox: outboxer.Outbox(), // data-subject requests near their deadline
		Kick: worker.Kick, Templates: a.templates, PortalURL: a.tenantPortalURL, Holder: holder,
		Logger: a.logger.Named("request-reminders")}).Run(jobs)
	if review := a.reviewJob(a.PermissionReview, st, outboxer.Outbox(), worker.Kick, holder, clk); review != nil { // permission review mail (review.go)
		go review.Run(jobs)
	}
	return a.startMail()
}

// auditExpirer is the audit_retention job.
func (a *App) auditExpirer(st store.Store, keys *audit.KeyStore, w *audit.Writer, holder string, clk clock.Clock) *audit.Expirer {
	return &audit.Expirer{Store: st, Keys: keys, Leases: st.Maintenance(), Holder: holder, Retention: time.Duration(a.AuditRetention),
		Writer: w, Clock: clk, Logger: a.logger.Named("audit-retention")}
}

// openStore opens (or shares, across config reloads) the store, running migrations.
func (a *App) openStore(ctx context.Context) (store.Store, error) {
	dsn := caddy.NewReplacer().ReplaceAll(a.Store, "")
	val, _, err := storePool.LoadOrNew(dsn, func() (caddy.Destructor, error) {
		st, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("opening store %s: %w", redactDSN(dsn), err)
		}
		return &pooledStore{Store: st}, nil
	})
	if err != nil {
		return nil, err
	}
	a.poolKey = dsn
	a.logger.Info("store ready", zap.String("store", redactDSN(dsn)))
	return val.(*pooledStore).Store, nil
}

// keyReloadInterval is how often a running gateway looks at its key file again before
// sealing a value: after `gatehouse keys rotate` adds a version, every instance seals
// under it within this time (and opens values sealed under it at once).
const keyReloadInterval = 5 * time.Second

// fieldCipher loads the master key versions (value or file, the file created when
// missing) and derives the field keys; it returns the versions too (newest first), for
// the data keys. A cipher from a key file follows the file (keys rotate).
func (a *App) fieldCipher() (*secret.FieldCipher, []secret.MasterKey, error) {
	keys, path, err := a.masterKeys(true)
	if err != nil {
		return nil, nil, err
	}
	fc, err := secret.NewVersionedFieldCipher(keys)
	if err != nil {
		return nil, nil, err
	}
	if path != "" {
		fc.WithReload(func() ([]secret.MasterKey, error) { return secret.ReadMasterKeyFile(path) }, keyReloadInterval)
	}
	return fc, keys, nil
}

// masterKeys loads the master key versions, newest first: the value, or else the file
// (whose path it returns; "" for a value). A missing file is created with a new key
// when create is set; otherwise it gives no keys (nil, "", nil), for commands that
// only read and must not invent a key the gateway does not have.
func (a *App) masterKeys(create bool) ([]secret.MasterKey, string, error) {
	if v := caddy.NewReplacer().ReplaceAll(a.MasterKey, ""); v != "" {
		keys, err := secret.ParseMasterKeys(v)
		if err != nil {
			return nil, "", fmt.Errorf("master_key: %w", err)
		}
		return keys, "", nil
	}
	path := caddy.NewReplacer().ReplaceAll(a.MasterKeyFile, "")
	if _, err := os.Stat(path); !create && errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	keys, err := secret.LoadOrCreateMasterKeys(path)
	if err != nil {
		return nil, "", fmt.Errorf("master key: %w", err)
	}
	return keys, path, nil
}

// firstRun creates the default workspace in an empty store, checks that every tenant a
// site names exists (and primes the directory with it), and logs a one-time setup link
// while the default workspace has no user.
func (a *App) firstRun(ctx context.Context) error {
	def, err := admin.EnsureDefaultTenant(ctx, a.svc.store, a.svc.clock)
	if err != nil {
		return err
	}
	a.sites.mu.Lock()
	sites := append([]siteTenant(nil), a.sites.sites...)
	a.sites.mu.Unlock()
	var errs []error
	prefix := defaultPortalPrefix
	for i, s := range sites {
		ws, err := a.svc.tenants.BySlug(ctx, s.slug)
		switch {
		case errors.Is(err, gateway.ErrUnknownTenant):
			errs = append(errs, fmt.Errorf("tenant %q does not exist (create it with: gatehouse tenant create --config <this config> --slug %s --name <name>)", s.slug, s.slug))
		case err != nil:
			errs = append(errs, err)
		case ws.ID == def.ID && (i == 0 || prefix == defaultPortalPrefix):
			prefix = s.prefix
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if def.ID == "" {
		return nil
	}
	ws := store.Workspace{Tenant: def, TenantHandle: a.svc.store.Tenant(def.ID)}
	tok, err := a.svc.admin.IssueSetupLink(ctx, ws)
	if errors.Is(err, authn.ErrSetupDone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("issuing setup link: %w", err)
	}
	a.logger.Warn("first run: open this one-time link (valid 1 h) to create the owner account",
		zap.String("tenant", def.Slug), zap.String("setup_url", a.BaseURL+prefix+"/setup?token="+tok))
	return nil
}

// tenantLockoutPolicy reads a tenant's lockout overrides from its security settings.
func tenantLockoutPolicy(st store.Store) func(context.Context, string) (authn.LockoutPolicy, error) {
	return func(ctx context.Context, tenantID string) (authn.LockoutPolicy, error) {
		s, err := st.Tenant(tenantID).Settings().SecuritySettings(ctx)
		return authn.LockoutPolicy{Threshold: s.LockoutThreshold, Base: s.LockoutDuration, Max: s.LockoutMax}, err
	}
}
