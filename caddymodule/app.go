package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `gatehouse` app: the store and the services every site shares. Configure
// it with the `gatehouse` global option; without one, the defaults apply.
type App struct {
	// Store is where state of record lives: "sqlite:///path/to/gatehouse.db" or
	// "postgres://user@host/db?sslmode=verify-full". Caddy placeholders such as
	// {env.GATEHOUSE_DSN} or {file./run/secrets/dsn} are expanded, so credentials need
	// not appear in the Caddyfile. Default: sqlite in Caddy's data directory,
	// <data dir>/gatehouse/gatehouse.db.
	Store string `json:"store,omitempty"`

	// BcryptCost is the bcrypt work factor for new password hashes; passwords hashed
	// with another cost are re-hashed at their next sign-in. Default 12.
	BcryptCost int `json:"bcrypt_cost,omitempty"`

	// MinPasswordLength in Unicode code points. Default 15 (NIST SP 800-63B, password
	// as the only factor). Values under 8 are refused.
	MinPasswordLength int `json:"min_password_length,omitempty"`

	// SessionLifetime is the absolute session lifetime. Default 30 days.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`

	// IdleTimeout ends sessions unused for this long. Default 0 (off).
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// SessionCacheTTL is how long a validated session is served from memory before
	// the store is asked again (the bound on how late a revocation made by another
	// instance takes effect). Default 1s.
	SessionCacheTTL caddy.Duration `json:"session_cache_ttl,omitempty"`

	// MasterKeyFile holds the base64 master key that seals secrets in the store
	// (TOTP keys); created (0600) with a new random key when missing. Every instance
	// sharing a store needs the same key. Default <data dir>/gatehouse/master.key.
	MasterKeyFile string `json:"master_key_file,omitempty"`

	// MasterKey is the base64 master key itself, normally a placeholder such as
	// {env.GATEHOUSE_MASTER_KEY}; it takes precedence over MasterKeyFile.
	MasterKey string `json:"master_key,omitempty"`

	// PasskeyRPID fixes the WebAuthn relying-party id (a registrable domain such as
	// "example.com", so that passkeys work on all its subdomains). Default: each site's
	// own host name.
	PasskeyRPID string `json:"passkey_rp_id,omitempty"`

	// PasskeyOrigins lists the origins allowed in passkey ceremonies (e.g.
	// "https://app.example.com"); they must lie within PasskeyRPID. Default: the site's
	// own origin.
	PasskeyOrigins []string `json:"passkey_origins,omitempty"`

	// Redis is where hot shared state lives when several instances share the load:
	// lockout counters and rate limits ("redis://user:pass@host:6379/0", "rediss://…"
	// for TLS; use a placeholder such as {env.GATEHOUSE_REDIS} for the password).
	// Default: this instance's memory.
	Redis string `json:"redis,omitempty"`

	// RedisKeyPrefix starts every key Gatehouse writes to Redis, so several deployments
	// can share one database. Default "gatehouse:".
	RedisKeyPrefix string `json:"redis_key_prefix,omitempty"`

	// RateLimits overrides the limits of endpoint classes (login, second_factor, token,
	// api): e.g. {"login": {"per_ip": "30/1m", "per_user": "10/1m"}}; "0" turns one off.
	RateLimits map[string]RateLimit `json:"rate_limits,omitempty"`

	// LockoutThreshold consecutive failures (password or second factor) lock an account.
	// Default 5.
	LockoutThreshold int `json:"lockout_threshold,omitempty"`

	// LockoutDuration is the first lock's length; each further one doubles. Default 15m.
	LockoutDuration caddy.Duration `json:"lockout_duration,omitempty"`

	// LockoutMax caps the doubling. Default 24h.
	LockoutMax caddy.Duration `json:"lockout_max,omitempty"`

	// SMTP is the mail relay for alerts (account locked, unusual sign-in). Without
	// it, mail goes to the log. Mail always passes through a durable outbox in the
	// store, so an SMTP outage loses nothing.
	SMTP *SMTP `json:"smtp,omitempty"`

	// MailTemplates is a directory whose <kind>.{subject,text,html}.tmpl files
	// replace the built-in ones. Default: built-in templates.
	MailTemplates string `json:"mail_templates,omitempty"`

	// GeoIPDB is a MaxMind City database (GeoIP2/GeoLite2 .mmdb) for locating
	// sign-ins; it is reloaded when the file changes. Without it, anomaly detection is
	// device-only. A missing or broken file never blocks sign-in.
	GeoIPDB string `json:"geoip_db,omitempty"`

	// MaxTravelSpeed in km/h above which two sign-ins count as impossible travel.
	// Default 1000.
	MaxTravelSpeed float64 `json:"max_travel_speed,omitempty"`

	// BaseURL is the public address used in links Gatehouse logs or mails, such as
	// the first-run setup link (e.g. "https://auth.example.com"). Default: none
	// (the link is logged as a path).
	BaseURL string `json:"base_url,omitempty"`

	svc           *services
	mailWorker    *notify.Worker
	defaultTenant store.Tenant
	portals       *sync.Map // tenant id → portal prefix of the first site serving it
	poolKey       string
	hotKey        string
	logger        *zap.Logger
	metrics       *metrics
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "gatehouse", New: func() caddy.Module { return new(App) }}
}

// Provision opens (or shares) the store and builds the services.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.portals = new(sync.Map)
	if err := a.applyDefaults(); err != nil {
		return err
	}
	dsn := caddy.NewReplacer().ReplaceAll(a.Store, "")
	a.poolKey = dsn
	val, _, err := storePool.LoadOrNew(dsn, func() (caddy.Destructor, error) {
		openCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := sqlstore.Open(openCtx, dsn)
		if err != nil {
			return nil, fmt.Errorf("opening store %s: %w", redactDSN(dsn), err)
		}
		return &pooledStore{Store: st}, nil
	})
	if err != nil {
		a.poolKey = ""
		return err
	}
	st := val.(*pooledStore).Store
	a.metrics = newMetrics(metricsRegistry(ctx))
	hot, err := a.hotState(ctx)
	if err != nil {
		return err
	}
	cipher, err := a.fieldCipher()
	if err != nil {
		return err
	}
	var challenges passkey.ChallengeStore = passkey.NewMemoryChallenges(clock.Real{}) // bounded
	if a.Redis != "" {
		challenges = kvChallenges{kv: hot.kv} // any instance can finish a ceremony
	}
	pks, err := passkey.New(passkey.Config{RPDisplayName: "Gatehouse", RPID: a.PasskeyRPID, Origins: a.PasskeyOrigins,
		Challenges: challenges, Clock: clock.Real{}})
	if err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	clk := clock.Real{}
	hasher := &identity.Hasher{Cost: a.BcryptCost}
	hasher.DummyHash() // computed now, so the first unknown-user sign-in is not faster
	a.svc = &services{
		store: st,
		clock: clk,
		sessions: session.NewManager(st, clk, session.Options{
			Lifetime:    time.Duration(a.SessionLifetime),
			IdleTimeout: time.Duration(a.IdleTimeout),
			CacheTTL:    time.Duration(a.SessionCacheTTL),
		}),
		hasher: hasher,
		authn: &authn.Service{Hasher: hasher, Clock: clk, Gate: authn.NewGate(0, 2*time.Second),
			Lockout: &authn.Lockout{KV: hot.kv, Clock: clk, Policy: authn.LockoutPolicy{
				Threshold: a.LockoutThreshold, Base: time.Duration(a.LockoutDuration), Max: time.Duration(a.LockoutMax)},
				TenantPolicy: tenantLockoutPolicy(st)}},
		limiter:  hot.limiter,
		mfa:      &authn.MFA{Cipher: cipher, Clock: clk},
		passkeys: pks,
		audit:    audit.NewWriter(clk),
		rules:    identity.PasswordRules{MinLength: a.MinPasswordLength},
	}
	outboxer, ok := st.(interface{ Outbox() *sqlstore.Outbox })
	if !ok {
		return errors.New("store has no mail outbox")
	}
	if a.svc.notifier, a.mailWorker, err = a.mailer(outboxer.Outbox()); err != nil {
		return err
	}
	a.svc.geoip = risk.OpenGeoIP(caddy.NewReplacer().ReplaceAll(a.GeoIPDB, ""), a.logger.Named("geoip"))
	a.metrics.outboxDepth(a.mailWorker)
	a.logger.Info("store ready", zap.String("store", redactDSN(dsn)))
	return a.firstRun(ctx)
}

func (a *App) applyDefaults() error {
	var errs []error
	if a.Store == "" {
		a.Store = "sqlite://" + filepath.Join(caddy.AppDataDir(), "gatehouse", "gatehouse.db")
	}
	if a.MasterKeyFile == "" {
		a.MasterKeyFile = filepath.Join(caddy.AppDataDir(), "gatehouse", "master.key")
	}
	if a.BcryptCost == 0 {
		a.BcryptCost = 12
	}
	if a.MaxTravelSpeed < 0 {
		errs = append(errs, fmt.Errorf("max_travel_speed %v: must be positive", a.MaxTravelSpeed))
	}
	if a.SMTP != nil && a.SMTP.Host != "" && a.SMTP.From == "" {
		errs = append(errs, errors.New("smtp: from is required with a host"))
	}
	if a.LockoutThreshold == 0 {
		a.LockoutThreshold = authn.DefaultLockout.Threshold
	}
	if a.LockoutDuration == 0 {
		a.LockoutDuration = caddy.Duration(authn.DefaultLockout.Base)
	}
	if a.LockoutMax == 0 {
		a.LockoutMax = caddy.Duration(authn.DefaultLockout.Max)
	}
	if a.LockoutThreshold < 1 || a.LockoutThreshold > 100 {
		errs = append(errs, fmt.Errorf("lockout_threshold %d: must be between 1 and 100", a.LockoutThreshold))
	}
	if a.LockoutDuration < 0 || a.LockoutMax < a.LockoutDuration {
		errs = append(errs, fmt.Errorf("lockout_duration %v and lockout_max %v: need 0 < duration <= max", time.Duration(a.LockoutDuration), time.Duration(a.LockoutMax)))
	}
	if a.BcryptCost < 4 || a.BcryptCost > 31 {
		errs = append(errs, fmt.Errorf("bcrypt_cost %d: must be between 4 and 31", a.BcryptCost))
	}
	if a.MinPasswordLength == 0 {
		a.MinPasswordLength = 15
	}
	if a.MinPasswordLength < 8 || a.MinPasswordLength > 64 {
		errs = append(errs, fmt.Errorf("min_password_length %d: must be between 8 and 64", a.MinPasswordLength))
	}
	if a.SessionLifetime < 0 || a.IdleTimeout < 0 || a.SessionCacheTTL < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if time.Duration(a.SessionCacheTTL) > time.Minute {
		errs = append(errs, fmt.Errorf("session_cache_ttl %v: at most 1m (it bounds how late a revocation elsewhere takes effect)", time.Duration(a.SessionCacheTTL)))
	}
	if _, err := a.rateRules(); err != nil {
		errs = append(errs, err)
	}
	if a.BaseURL != "" {
		u, err := url.Parse(a.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base_url %q: must be an absolute http(s) URL", a.BaseURL))
		}
		a.BaseURL = strings.TrimSuffix(a.BaseURL, "/")
	}
	return errors.Join(errs...)
}

// fieldCipher loads the master key (value or file) and derives the field keys.
func (a *App) fieldCipher() (*secret.FieldCipher, error) {
	var key []byte
	var err error
	if v := caddy.NewReplacer().ReplaceAll(a.MasterKey, ""); v != "" {
		key, err = secret.ParseMasterKey(v)
	} else {
		key, err = secret.LoadOrCreateMasterKey(caddy.NewReplacer().ReplaceAll(a.MasterKeyFile, ""))
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return secret.NewFieldCipher(key)
}

// firstRun creates the default tenant in an empty store (sites resolve it while they
// provision); the setup link is issued in Start, once the sites have said which portal
// prefix serves that tenant.
func (a *App) firstRun(ctx context.Context) error {
	t, err := ensureDefaultTenant(ctx, a.svc.store, a.svc.clock)
	a.defaultTenant = t
	return err
}

// notePortal records the portal prefix a site serves the tenant under (for the link).
func (a *App) notePortal(tenantID, prefix string) { a.portals.LoadOrStore(tenantID, prefix) }

// setupLink logs a one-time link while the default tenant has no users.
func (a *App) setupLink(ctx context.Context) error {
	t := a.defaultTenant
	if t.ID == "" {
		return nil
	}
	tok, err := authn.IssueSetupToken(ctx, a.svc.store.Tenant(t.ID), a.svc.clock)
	if errors.Is(err, authn.ErrSetupDone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("issuing setup link: %w", err)
	}
	prefix := "/auth"
	if p, ok := a.portals.Load(t.ID); ok {
		prefix = p.(string)
	}
	link := a.BaseURL + prefix + "/setup?token=" + tok
	a.logger.Warn("first run: open this one-time link (valid 1 h) to create the owner account",
		zap.String("tenant", t.Slug), zap.String("setup_url", link))
	rec := store.AuditRecord{Action: audit.ActionSetupLink, Outcome: audit.Success, ActorID: "system"}
	if _, err := a.svc.audit.Write(ctx, a.svc.store.Tenant(t.ID), rec); err != nil {
		return err
	}
	return nil
}

// Start logs the first-run setup link if one is due and runs the mail outbox worker
// (the HTTP app serves the handlers).
func (a *App) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.setupLink(ctx); err != nil {
		return err
	}
	return a.startMail()
}

// Stop stops the mail worker; Cleanup releases the store.
func (a *App) Stop() error {
	if a.mailWorker != nil {
		a.mailWorker.Stop()
	}
	return nil
}

// Cleanup releases this config's hold on the shared store (safe after a failed Provision).
func (a *App) Cleanup() error {
	var errs []error
	if a.hotKey != "" {
		_, err := hotPool.Delete(a.hotKey)
		errs = append(errs, err)
	}
	if a.poolKey != "" {
		_, err := storePool.Delete(a.poolKey)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RateLimit is one class's limits, each "<count>/<period>" such as "30/1m".
type RateLimit struct {
	PerIP   string `json:"per_ip,omitempty"`
	PerUser string `json:"per_user,omitempty"`
}

// tenantLockoutPolicy reads a tenant's lockout overrides from its security settings.
func tenantLockoutPolicy(st store.Store) func(context.Context, string) (authn.LockoutPolicy, error) {
	return func(ctx context.Context, tenantID string) (authn.LockoutPolicy, error) {
		s, err := st.Tenant(tenantID).Settings().SecuritySettings(ctx)
		return authn.LockoutPolicy{Threshold: s.LockoutThreshold, Base: s.LockoutDuration, Max: s.LockoutMax}, err
	}
}

// services are what handlers need from the app.
type services struct {
	store    store.Store
	clock    clock.Clock
	sessions *session.Manager
	hasher   *identity.Hasher
	authn    *authn.Service
	mfa      *authn.MFA
	passkeys *passkey.Service
	limiter  *ratelimit.Limiter
	notifier *notify.Notifier
	geoip    *risk.GeoIP
	audit    *audit.Writer
	rules    identity.PasswordRules
}

// storePool shares one store (one connection pool) across config reloads.
var storePool = caddy.NewUsagePool()

type pooledStore struct{ store.Store }

func (p *pooledStore) Destruct() error { return p.Close() }

// redactDSN hides a password in a store DSN for logs.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
