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
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `gatehouse` app: the store and the services every site shares. Configure
// it with the `gatehouse` global option; without one, the defaults apply.
//
// Provision only reads and checks the configuration; everything with side effects —
// opening (and migrating) the store, creating the master key, connecting to Redis,
// creating the default workspace, logging the setup link — happens in Start, so
// `caddy validate` and `caddy adapt` change nothing. Sites wait for Start (briefly, on
// their first requests) before they serve.
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

	// SigninCPUShare is the fraction of the machine's CPU that password hashing may use
	// over time (a login flood from rotating addresses then leaves the rest to proxied
	// traffic; attempts over the budget get 503 with Retry-After at once). Default 0.15.
	SigninCPUShare float64 `json:"signin_cpu_share,omitempty"`

	// SessionLifetime is the absolute session lifetime. Default 30 days.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`

	// IdleTimeout ends sessions unused for this long: 0 (off, the default) or at
	// least 5 minutes (activity is recorded once a minute per session).
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// ReauthAge is how long after signing in (or re-authenticating) a user may change
	// their password, remove a factor or administer members without entering the
	// password again. Default 10m.
	ReauthAge caddy.Duration `json:"reauth_age,omitempty"`

	// PermissionReview is the periodic permission-review mail to every tenant's
	// owners. Default: every 90 days, every tenant.
	PermissionReview *PermissionReview `json:"permission_review,omitempty"`

	// SigningKeyRotation is how often a new token-signing key is made. Default 30 days.
	SigningKeyRotation caddy.Duration `json:"signing_key_rotation,omitempty"`

	// RefreshGrace is how long after a refresh token was rotated a parallel request
	// presenting it gets the same successor rather than counting as theft. Default 10s.
	RefreshGrace caddy.Duration `json:"refresh_grace,omitempty"`

	// TokenCacheSize bounds the caches of verified access tokens and of minted
	// assertions (entries each). Default 10000.
	TokenCacheSize int `json:"token_cache_size,omitempty"`

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

	// MailRetention is how long a message may wait in the mail outbox undelivered
	// (SMTP down or refusing it) before it is dropped with its address and bodies;
	// delivered mail leaves the outbox at once. Default 24h; at least 1h.
	MailRetention caddy.Duration `json:"mail_retention,omitempty"`

	// Backup schedules copies of the embedded SQLite store (backup.go). Default: off.
	Backup *Backup `json:"backup,omitempty"`

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

	// AuditRetention is how long audit records are kept: older ones expire (the
	// newest record of a trail always stays), after a cut signed with the audit key at
	// the last expired record, from which `gatehouse audit verify` and exports then
	// verify the chain. Accepts days ("400d"). Default 0: keep forever. At least 1h.
	AuditRetention caddy.Duration `json:"audit_retention,omitempty"`

	// AuditCheckpointEvery signs a checkpoint of a tenant's trail after this many new
	// records. Default 1000.
	AuditCheckpointEvery int `json:"audit_checkpoint_every,omitempty"`

	// AuditCheckpointInterval signs a checkpoint of a tenant's trail when this much
	// time has passed since its last one and it has new records. Default 1h; at
	// least 1m.
	AuditCheckpointInterval caddy.Duration `json:"audit_checkpoint_interval,omitempty"`

	// BaseURL is the public address used in links Gatehouse logs or mails, such as
	// the first-run setup link (e.g. "https://auth.example.com"). Default: none
	// (the link is logged as a path).
	BaseURL string `json:"base_url,omitempty"`

	// AuditSpool is the local file where audit records of proxied requests wait while
	// the store is unreachable (fsynced, replayed in order). One process per file.
	// Default: audit.spool in Caddy's data directory, beside the default database.
	AuditSpool string `json:"audit_spool,omitempty"`

	// AuditSpoolMax caps the spool ("256MiB", "1GB", or bytes). When it is full,
	// audited requests are refused with 503 until the store is back. Default 256MiB.
	AuditSpoolMax string `json:"audit_spool_max,omitempty"`

	logger     *zap.Logger
	metrics    *metrics
	rateRules  map[ratelimit.Class]ratelimit.Rule
	templates  *notify.Templates
	passkeyCfg passkey.Config
	hasher     *identity.Hasher

	// sites are the static tenants the handlers serve, with their portal prefixes
	// (checked and primed at Start; the first prefix names the setup link's path).
	sites *siteList

	// Set by Start, read by handlers after ready is closed.
	ready      chan struct{}
	startErr   error
	svc        *services
	mailWorker *notify.Worker
	stopJobs   context.CancelFunc // the purge job
	poolKey    string
	hotKey     string
	auditKey   string // the committer's key in auditPool
	denials    *audit.Denials

	auditSpoolMax int64
}

type siteTenant struct{ slug, prefix string }

type siteList struct {
	mu    sync.Mutex
	sites []siteTenant
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "gatehouse", New: func() caddy.Module { return new(App) }}
}

// Provision reads and checks the configuration; it opens nothing and writes nothing.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.ready = make(chan struct{})
	a.sites = new(siteList)
	if err := a.applyDefaults(); err != nil {
		return err
	}
	var err error
	if a.rateRules, err = a.parseRateRules(); err != nil {
		return err
	}
	a.templates = notify.DefaultTemplates()
	if a.MailTemplates != "" {
		if a.templates, err = notify.LoadTemplates(a.MailTemplates); err != nil {
			return fmt.Errorf("mail_templates: %w", err)
		}
	}
	a.passkeyCfg = passkey.Config{RPDisplayName: "Gatehouse", RPID: a.PasskeyRPID, Origins: a.PasskeyOrigins}
	if _, err := passkey.New(passkey.Config{RPID: a.PasskeyRPID, Origins: a.PasskeyOrigins, Challenges: passkey.NewMemoryChallenges(nil)}); err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	a.hasher = &identity.Hasher{Cost: a.BcryptCost}
	a.metrics = sharedMetrics(metricsRegistry(ctx))
	registerBackupMetrics(metricsRegistry(ctx)) // backup.go
	return nil
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
	if err := a.PermissionReview.check(); err != nil {
		errs = append(errs, err)
	}
	if a.MaxTravelSpeed < 0 {
		errs = append(errs, fmt.Errorf("max_travel_speed %v: must be positive", a.MaxTravelSpeed))
	}
	if a.SigninCPUShare < 0 || a.SigninCPUShare > 1 {
		errs = append(errs, fmt.Errorf("signin_cpu_share %v: must be between 0 and 1 (e.g. 0.15)", a.SigninCPUShare))
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
	if a.ReauthAge == 0 {
		a.ReauthAge = caddy.Duration(authn.DefaultReauthAge)
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"session_lifetime", a.SessionLifetime}, {"idle_timeout", a.IdleTimeout}, {"session_cache_ttl", a.SessionCacheTTL}, {"reauth_age", a.ReauthAge}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", d.name, time.Duration(d.v)))
		}
	}
	if a.SigningKeyRotation == 0 {
		a.SigningKeyRotation = caddy.Duration(token.DefaultRotation)
	}
	if a.SigningKeyRotation > 0 && time.Duration(a.SigningKeyRotation) < 24*time.Hour {
		errs = append(errs, fmt.Errorf("signing_key_rotation %v: at least 24h (a key is published %v before it signs and kept %v after)",
			time.Duration(a.SigningKeyRotation), token.PublishLead, token.RetireAfter))
	}
	if a.RefreshGrace == 0 {
		a.RefreshGrace = caddy.Duration(token.DefaultRefreshGrace)
	}
	if time.Duration(a.RefreshGrace) < time.Second || time.Duration(a.RefreshGrace) > time.Minute {
		errs = append(errs, fmt.Errorf("refresh_grace %v: from 1s to 1m (longer lets a stolen token in)", time.Duration(a.RefreshGrace)))
	}
	if a.TokenCacheSize == 0 {
		a.TokenCacheSize = token.DefaultCacheSize
	}
	if a.TokenCacheSize < 100 || a.TokenCacheSize > 10_000_000 {
		errs = append(errs, fmt.Errorf("token_cache_size %d: from 100 to 10000000", a.TokenCacheSize))
	}
	if a.IdleTimeout > 0 && time.Duration(a.IdleTimeout) < 5*time.Minute {
		// Activity reaches the store at most once a minute per session, in the
		// background: a shorter idle timeout would end sessions in use.
		errs = append(errs, fmt.Errorf("idle_timeout %v: 0 (off) or at least 5m (activity is recorded once a minute)", time.Duration(a.IdleTimeout)))
	}
	if time.Duration(a.SessionCacheTTL) > time.Minute {
		errs = append(errs, fmt.Errorf("session_cache_ttl %v: at most 1m (it bounds how late a revocation elsewhere takes effect)", time.Duration(a.SessionCacheTTL)))
	}
	if _, err := a.parseRateRules(); err != nil {
		errs = append(errs, err)
	}
	a.auditSpoolMax = defaultSpoolMax
	if a.AuditSpoolMax != "" {
		n, err := parseSize(a.AuditSpoolMax)
		if err == nil && n < 1<<20 {
			err = fmt.Errorf("%q is below 1MiB", a.AuditSpoolMax)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("audit_spool_max: %w", err))
		}
		a.auditSpoolMax = n
	}
	errs = append(errs, a.checkAudit()...)
	errs = append(errs, a.checkBackup()...) // backup.go: backup block, mail_retention
	if a.BaseURL != "" {
		u, err := url.Parse(a.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base_url %q: must be an absolute http(s) URL", a.BaseURL))
		}
		a.BaseURL = strings.TrimSuffix(a.BaseURL, "/")
	}
	return errors.Join(errs...)
}

// minAuditRetention is the shortest retention accepted: anything shorter is taken
// for a typo (30m for 30d) that would empty the trail.
const minAuditRetention = time.Hour

// checkAudit checks the audit options.
func (a *App) checkAudit() []error {
	var errs []error
	if r := time.Duration(a.AuditRetention); r != 0 && r < minAuditRetention {
		errs = append(errs, fmt.Errorf("audit_retention %v: 0 (keep forever) or at least 1h (e.g. 400d)", r))
	}
	if a.AuditCheckpointEvery < 0 {
		errs = append(errs, fmt.Errorf("audit_checkpoint_every %d: a number of records, at least 1", a.AuditCheckpointEvery))
	}
	if i := time.Duration(a.AuditCheckpointInterval); i < 0 || (i > 0 && i < time.Minute) {
		errs = append(errs, fmt.Errorf("audit_checkpoint_interval %v: at least 1m (the trails are looked at once a minute)", i))
	}
	return errs
}

// serveTenant records that a site serves the tenant slug under prefix (handlers call
// it while they provision; Start checks that the tenant exists).
func (a *App) serveTenant(slug, prefix string) {
	a.sites.mu.Lock()
	defer a.sites.mu.Unlock()
	a.sites.sites = append(a.sites.sites, siteTenant{slug: slug, prefix: prefix})
}

// Start opens the store and the hot shared state, builds the services, creates the
// default workspace on first run, checks the sites' tenants, logs the setup link when
// one is due, and starts the mail worker. Sites serve once it has finished.
func (a *App) Start() error {
	err := a.start()
	a.startErr = err
	close(a.ready)
	return err
}

// Stop stops the mail worker, the purge job and the session activity writer; Cleanup
// releases the store.
func (a *App) Stop() error {
	if a.stopJobs != nil {
		a.stopJobs()
	}
	if a.denials != nil {
		a.denials.Flush() // into the committer, which Cleanup drains
	}
	if a.mailWorker != nil {
		a.mailWorker.Stop()
	}
	if a.svc != nil {
		a.svc.sessions.Close()
		if a.svc.exports != nil {
			_ = a.svc.exports.Close() // stops running exports, deletes the files
		}
	}
	return nil
}

// Cleanup releases this config's hold on the shared store and state (safe after a
// failed Provision or Start).
func (a *App) Cleanup() error {
	var errs []error
	if a.auditKey != "" { // before the store it writes to
		_, err := auditPool.Delete(a.auditKey)
		errs = append(errs, err)
	}
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

// services returns the app's services once Start has run, waiting for it at most
// until ctx ends (a request that arrives while the gateway starts).
func (a *App) services(ctx context.Context) (*services, error) {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("gatehouse app not started: %w", ctx.Err())
	}
	if a.startErr != nil {
		return nil, a.startErr
	}
	return a.svc, nil
}

// RateLimit is one class's limits, each "<count>/<period>" such as "30/1m".
type RateLimit struct {
	PerIP   string `json:"per_ip,omitempty"`
	PerUser string `json:"per_user,omitempty"`
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
